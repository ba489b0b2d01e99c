"""A plain conv net whose defaults on MNIST-1D are the dataset paper's ConvBase."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.layers import activation, has_bias, norm_layer, with_bias
from biaslab.schema import (
    Act,
    Bias,
    Channels,
    Flag,
    Norm,
    OptionalBlock,
    OptionalFlag,
    PaddingMode,
    PerBlock,
    PerBlockPadding,
    Pool,
    Positive,
    PositiveInt,
    Probability,
)

CONV = {1: nn.Conv1d, 2: nn.Conv2d}
MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d}


def _widths(width: int, width_mult: float, depth: int) -> list[int]:
    return [max(1, round(width * width_mult**i)) for i in range(depth)]


def _per_layer(value: int | Sequence[int], depth: int) -> list[int]:
    return [int(value)] * depth if isinstance(value, int) else [int(v) for v in value]


def _conv_biases(
    channels: list[int],
    bias: bool | str,
    first_bias: bool | None,
    bias_block: int | None,
    norm: str,
    norm_shift: bool,
    norm_groups: int,
) -> list[bool]:
    """Whether each conv block has a bias, by the one rule (:func:`has_bias`)."""
    if bias_block is not None and not 0 <= bias_block < len(channels):
        raise ValueError(
            f"bias_block must be null or a block index from 0 to {len(channels) - 1}, "
            f"got {bias_block}"
        )
    return [
        has_bias(
            bias, norm, first_bias if i == 0 else None, norm_shift, c, norm_groups, i, bias_block
        )
        for i, c in enumerate(channels)
    ]


class CNN(nn.Module):
    """conv → norm → act → dropout, ``depth`` times, then flatten (or global-pool) → linear.

    Conv1d or Conv2d is chosen from ``in_shape``: (C, L) or (C, H, W).
    Channels: ``channels`` if given, else ``width * width_mult**i`` for block i.
    ``kernel_size``/``stride``/``padding`` take one value or one per block; ``padding_mode`` is
    every conv's (torch's ``zeros``, ``reflect``, ``replicate`` or ``circular``).
    ``pool``: ``none`` (downsampling by stride only), ``max`` (2× max-pool after each block).
    ``global_pool``: average over positions before the head instead of flattening them.
    ``paired_init``: weights drawn as though every layer had a bias (see
    :func:`~biaslab.models.layers.with_bias`). ``bias_block=i``: conv block i alone has a bias
    (:func:`~biaslab.models.layers.has_bias`; not with ``first_bias``). ``norm_shift=False``:
    no additive constant in the norms, their scale kept
    (:func:`~biaslab.models.layers.norm_layer`); with ``bias=False`` and ``head_bias=False``
    the net has no additive constant anywhere.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        width: PositiveInt = 25,
        depth: PositiveInt = 3,
        width_mult: Positive = 1.0,
        channels: Channels = None,
        kernel_size: PerBlock = (5, 3, 3),
        stride: PerBlock = 2,
        padding: PerBlockPadding = 1,
        padding_mode: PaddingMode = "zeros",
        pool: Pool = "none",
        global_pool: Flag = False,
        bias: Bias = True,
        first_bias: OptionalFlag = None,
        bias_block: OptionalBlock = None,
        head_bias: Flag = True,
        norm: Norm = "none",
        norm_groups: PositiveInt = 8,
        norm_shift: Flag = True,
        act: Act = "relu",
        dropout: Probability = 0.0,
        paired_init: Flag = False,
    ):
        super().__init__()
        dims = len(in_shape) - 1
        if dims not in (1, 2):
            raise ValueError(f"CNN needs inputs shaped (C, L) or (C, H, W), got {tuple(in_shape)}")
        if channels is None:
            channels = _widths(width, width_mult, depth)
        channels = [int(c) for c in channels]
        biases = _conv_biases(channels, bias, first_bias, bias_block, norm, norm_shift, norm_groups)
        conv_type = functools.partial(CONV[dims], padding_mode=padding_mode)
        shapes = zip(
            _per_layer(kernel_size, len(channels)),
            _per_layer(stride, len(channels)),
            _per_layer(padding, len(channels)),
            strict=True,
        )
        layers: list[nn.Module] = []
        c_in = in_shape[0]
        for c_out, shape, use_bias in zip(channels, shapes, biases, strict=True):
            conv = with_bias(conv_type, c_in, c_out, *shape, bias=use_bias, paired_init=paired_init)
            layers += [
                conv,
                norm_layer(norm, c_out, dims, norm_groups, norm_shift),
                activation(act),
            ]
            if pool == "max":
                layers.append(MAXPOOL[dims](2))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.global_pool = global_pool
        n_features = self._n_features(in_shape)
        self.head = with_bias(
            nn.Linear, n_features, num_classes, bias=head_bias, paired_init=paired_init
        )

    def _n_features(self, in_shape: Sequence[int]) -> int:
        """The head's input size, probed in eval mode: in train mode the probe would update
        the batch norms' running statistics (with the bias's values, the only non-zero output
        of a zero input)."""
        self.features.eval()
        with torch.no_grad():
            n = self._pooled(self.features(torch.zeros(1, *in_shape))).shape[1]
        self.features.train()
        return n

    def _pooled(self, h: torch.Tensor) -> torch.Tensor:
        return h.flatten(2).mean(2) if self.global_pool else h.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._pooled(self.features(x)))
