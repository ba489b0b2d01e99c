"""The hand-written PyTorch loop the project path is measured against: the same model builder,
data tensors, batch order (:class:`~biaslab.data.base.TensorBatches`), inputs made from each
batch (the image datasets' scaling and crops, ``training_inputs``), optimizer, scheduler and
precision, and nothing else (no Lightning, no logging, no validation)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig

from biaslab.bench.clock import Windows
from biaslab.data.base import TensorBatches, TensorDataModule
from biaslab.models.build import build_model


def raw_device(cfg: DictConfig) -> torch.device:
    """The device Lightning would pick for ``cfg.trainer.accelerator``."""
    wants_gpu = cfg.trainer.accelerator in ("auto", "gpu", "cuda")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def _endless(batches: TensorBatches) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    # without a position, every pass over TensorBatches is the next epoch's order
    while True:
        yield from batches


def _precision(precision: str, device: torch.device):
    """(autocast context factory, grad scaler or None, input dtype) for a Lightning precision."""
    if precision == "32-true":
        return nullcontext, None, torch.float32
    if precision == "64-true":
        return nullcontext, None, torch.float64
    if precision in ("bf16-mixed", "16-mixed"):
        dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16
        scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
        return (lambda: torch.autocast(device.type, dtype=dtype)), scaler, torch.float32
    raise ValueError(f"raw loop: precision {precision!r} is not supported")


def run_raw(cfg: DictConfig, data: TensorDataModule, windows: Windows) -> None:
    """Train ``windows.total_steps`` steps, reporting each to ``windows``."""
    device = windows.device
    torch.manual_seed(cfg.seed)
    spec = data.spec
    model = build_model(cfg.model, spec.input_shape, spec.num_classes)
    autocast, scaler, dtype = _precision(str(cfg.trainer.precision), device)
    model = model.to(device=device, dtype=dtype)
    optimizer = instantiate(cfg.optimizer)(model.parameters())
    scheduler = instantiate(cfg.scheduler)(optimizer) if "_target_" in cfg.scheduler else None
    x, y = data.prepare_splits()["train"]
    # uint8 images stay uint8: the data module makes each batch's inputs, as in the project
    x, y = x.to(device=device, dtype=dtype if x.is_floating_point() else None), y.to(device)
    batches = _endless(TensorBatches(x, y, data.batch_size, shuffle=True, seed=data.shuffle_seed))
    channels_last = getattr(data, "channels_last", False) and x.dim() == 4  # as the project's
    model.train()
    for step in range(windows.total_steps):
        xb, yb = data.training_inputs(next(batches), step)
        xb = xb.to(dtype)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast():
            loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        if scheduler is not None:
            scheduler.step()
        windows.step(yb.numel())
