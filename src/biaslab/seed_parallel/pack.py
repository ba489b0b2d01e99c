"""K members' models and data packed into one model, one data module and one task."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from omegaconf import DictConfig
from torch import nn

from biaslab.config import ConfigError
from biaslab.data.base import TensorDataModule
from biaslab.models.packed import NotPackable, PackedModel
from biaslab.seed_parallel import KEY
from biaslab.seed_parallel.data import SeedParallelData
from biaslab.tasks.base import StepSettings
from biaslab.tasks.packed import SeedParallelClassifier


def pack(
    cfg: DictConfig,
    seeds: Sequence[int],
    models: Sequence[nn.Module],
    datas: Sequence[TensorDataModule],
    optimizer: Callable[..., torch.optim.Optimizer],
    scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None,
    steps: StepSettings,
) -> tuple[SeedParallelClassifier, SeedParallelData]:
    try:
        packed = PackedModel(models)
    except NotPackable as e:
        raise ConfigError(KEY, len(seeds), f"1 for this model ({e})") from e
    if cfg.model.get("compile"):
        packed.compile()
    data = SeedParallelData(datas)
    task = SeedParallelClassifier(packed, seeds, data.spec.num_classes, optimizer, scheduler, steps)
    return task, data
