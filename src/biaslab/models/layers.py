"""The one place that decides whether a layer gets a bias, and which norm follows it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import nn

BIAS_MODES = (True, False, "auto")
NORMS = ("none", "batch", "group", "layer")
ACTS = {"relu": nn.ReLU, "gelu": nn.GELU}


def has_bias(bias: bool | str, norm: str, override: bool | None = None) -> bool:
    """Whether a conv/linear layer gets a bias.

    ``override`` (e.g. ``first_bias`` for the first conv) wins when set. ``bias="auto"`` is
    torchvision's rule: a bias only where no normalization follows, because a norm that
    subtracts a per-channel mean cancels a per-channel constant exactly.
    """
    if override is not None:
        return bool(override)
    if bias == "auto":
        return norm == "none"
    return bool(bias)


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


def norm_layer(norm: str, channels: int, dims: int, groups: int = 8) -> nn.Module:
    """A norm over ``channels`` for ``dims`` spatial dims (0 = a plain feature vector).

    ``group`` uses gcd(groups, channels) groups so any width works; ``layer`` normalizes over
    channels and positions together (GroupNorm with one group) for conv features, and over
    features for vectors.
    """
    if norm == "none":
        return nn.Identity()
    if norm == "batch":
        return (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d)[dims](channels)
    if norm == "group":
        return nn.GroupNorm(math.gcd(groups, channels), channels)
    if norm == "layer":
        return nn.LayerNorm(channels) if dims == 0 else nn.GroupNorm(1, channels)
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def activation(act: str) -> nn.Module:
    return ACTS[act]()
