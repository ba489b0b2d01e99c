"""Builds ``cfg.model`` for the data: every key is a constructor argument of ``_target_``
except ``compile``, which is applied to the built model."""

from __future__ import annotations

from collections.abc import Sequence

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn


def build_model(model_cfg: DictConfig, in_shape: Sequence[int], num_classes: int) -> nn.Module:
    """``compile: true`` compiles the forward pass with ``torch.compile`` in place
    (``nn.Module.compile``, so parameter names and checkpoints are those of the plain model).
    It is meant for GPUs, where fusing kernels pays back the compile time (tens of seconds on
    the first steps); on a CPU the small models of this project rarely gain from it."""
    options = OmegaConf.to_container(model_cfg, resolve=True)
    compile_model = bool(options.pop("compile", False))
    model = instantiate(options, in_shape=in_shape, num_classes=num_classes)
    if compile_model:
        model.compile()
    return model
