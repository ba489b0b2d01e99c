"""The one place that decides whether a layer gets a bias, and which norm follows it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

BIAS_MODES = (True, False, "auto")
NORMS = ("none", "batch", "group", "layer")
ACTS = {"relu": nn.ReLU, "gelu": nn.GELU}


def norm_cancels_bias(norm: str, channels: int, groups: int = 8, shift: bool = True) -> bool:
    """Whether :func:`norm_layer` ``(norm, channels, groups=groups, shift=shift)`` subtracts
    each channel's own mean, which removes a per-channel constant added before it exactly (the
    output and the loss do not depend on it; ``∂L/∂b = 0``).

    Batch norm does (the mean over the batch and positions; in eval mode the constant folds
    into the running mean), unless ``shift=False`` (:class:`BatchScale` subtracts no mean).
    Group norm does only with one channel per group (then it is instance norm); with several,
    and layer norm (one group of every channel), it subtracts the group's mean, which removes
    only the group mean of the biases: the bias changes the output.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if norm == "batch":
        return shift
    if norm == "group":
        return math.gcd(groups, channels) == channels
    if norm == "layer":
        return channels == 1
    return False


def has_bias(
    bias: bool | str,
    norm: str,
    override: bool | None = None,
    norm_shift: bool = True,
    channels: int | None = None,
    groups: int = 8,
    block: int | None = None,
    bias_block: int | None = None,
) -> bool:
    """Whether a conv/linear layer with ``channels`` outputs, followed by ``norm``, gets a bias.

    ``bias_block`` (a block index; ``block`` is this layer's) gives that block alone a bias and
    every other block none, whatever ``bias`` says; together with an ``override`` it is
    refused, as both choose which layers have a bias. Else ``override`` (e.g. ``first_bias``
    for the first conv) wins when set. ``bias="auto"`` drops a bias only where it is
    mathematically redundant: where the norm that follows cancels it exactly
    (:func:`norm_cancels_bias`: a batch norm, or a group norm with one channel per group).
    Under group or layer norm otherwise, and without a norm, the bias stays.
    ``channels`` is needed to decide ``auto`` under group and layer norm. Unknown values
    raise ``ValueError``.
    """
    if not (bias is True or bias is False or bias == "auto"):
        raise ValueError(f"bias must be one of true, false, auto, got {bias!r}")
    if override is not None and not isinstance(override, bool):
        raise ValueError(f"a bias override must be null, true or false, got {override!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if bias_block is not None:
        return _in_bias_block(block, bias_block, override)
    if override is not None:
        return override
    if bias != "auto":
        return bias
    if channels is None:
        if norm in ("group", "layer"):
            raise ValueError(f"bias=auto under norm={norm} needs the layer's channel count")
        channels = 0  # not used by batch norm or none
    return not norm_cancels_bias(norm, channels, groups, norm_shift)


def _in_bias_block(block: int | None, bias_block: int, override: bool | None) -> bool:
    if isinstance(bias_block, bool) or not isinstance(bias_block, int) or bias_block < 0:
        raise ValueError(f"bias_block must be null or an integer >= 0, got {bias_block!r}")
    if override is not None:
        raise ValueError(
            f"bias_block={bias_block} with first_bias={str(override).lower()}: set one of "
            "them (both choose which convs have a bias)"
        )
    if block is None:
        raise ValueError(f"bias_block={bias_block} needs the layer's block index")
    return block == bias_block


def with_bias(
    layer: Callable[..., nn.Module], *args: Any, bias: bool, paired_init: bool, **kwargs: Any
) -> nn.Module:
    """``layer(*args, bias=bias, **kwargs)``; with ``paired_init`` built with a bias that is
    then dropped.

    PyTorch draws a layer's bias right after its weight, so a net without biases starts from
    other weights than the same seed with biases: the bias setting and the starting point
    change together. Drawn as though every layer had a bias, runs that differ only in their
    bias settings start from the same weights, and any difference between them is the bias's.
    """
    module = layer(*args, bias=bias or paired_init, **kwargs)
    if not bias:
        module.register_parameter("bias", None)
    return module


def batch_scale(
    x: torch.Tensor,
    running_var: torch.Tensor,
    weight: torch.Tensor,
    training: bool,
    momentum: float,
    eps: float,
) -> torch.Tensor:
    """``x / std * weight`` per channel (dim 1): the batch's std (over every other dim) in
    training, which also moves ``running_var`` (in place, unbiased, as ``nn.BatchNorm``
    does) towards it; ``running_var`` in eval mode."""
    dims = [0, *range(2, x.dim())]
    if training:
        var = x.to(running_var.dtype).var(dims, unbiased=False)
        with torch.no_grad():
            n = x.numel() // x.shape[1]
            running_var.lerp_(var * (n / max(n - 1, 1)), momentum)
    else:
        var = running_var
    scale = (weight * torch.rsqrt(var + eps)).view(1, -1, *([1] * (x.dim() - 2)))
    return x * scale.to(x.dtype)


class BatchScale(nn.Module):
    """Batch norm without an additive constant (Mohan et al. 2020's bias-free batch norm):
    each channel is divided by its standard deviation and multiplied by a learned scale; no
    mean is subtracted and no shift added. (Subtracting the running mean in eval mode would
    add a constant to every input.) A net of these, ReLUs, pooling and bias-free layers is
    positively homogeneous: ``f(a·x) = a·f(x)`` for ``a > 0`` in eval mode.

    Statistics are per device: ``trainer.sync_batchnorm`` does not convert this module."""

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return batch_scale(x, self.running_var, self.weight, self.training, self.momentum, self.eps)


def norm_layer(
    norm: str, channels: int, dims: int, groups: int = 8, shift: bool = True
) -> nn.Module:
    """A norm over ``channels`` for ``dims`` spatial dims (0 = a plain feature vector).

    ``group`` uses gcd(groups, channels) groups so any width works; ``layer`` normalizes over
    channels and positions together (GroupNorm with one group) for conv features, and over
    features for vectors.

    ``shift=False`` leaves no additive constant in the norm, its scale kept: batch norm
    becomes :class:`BatchScale`; group and layer norm lose their shift β (their per-example
    mean subtraction is linear in the input, not a constant).
    """
    if norm == "none":
        return nn.Identity()
    if norm == "batch":
        if not shift:
            return BatchScale(channels)
        return (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d)[dims](channels)
    if norm == "group":
        layer: nn.Module = nn.GroupNorm(math.gcd(groups, channels), channels)
    elif norm == "layer":
        if dims == 0:
            return nn.LayerNorm(channels, bias=shift)
        layer = nn.GroupNorm(1, channels)
    else:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if not shift:
        layer.register_parameter("bias", None)  # F.group_norm takes no bias as none added
    return layer


def activation(act: str) -> nn.Module:
    return ACTS[act]()
