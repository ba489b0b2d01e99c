"""CIFAR-style ResNets (He et al. 2016, section 4.2) whose every bias follows the bias rule."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.layers import activation, has_bias, norm_layer, with_bias
from biaslab.schema import Act, Bias, Flag, Norm, OptionalFlag, PositiveInt


def stages(depth: int) -> list[int]:
    """Blocks per stage: ``6n+2`` → three stages of n (ResNet-8/14/20/…, 16·2^i channels in
    the paper), 18 → four stages of two (the ResNet-18 layout)."""
    if depth == 18:
        return [2, 2, 2, 2]
    if depth >= 8 and (depth - 2) % 6 == 0:
        return [(depth - 2) // 6] * 3
    raise ValueError(f"ResNet depth must be 6n+2 (8, 14, 20, 32, …) or 18, got {depth}")


class BasicBlock(nn.Module):
    """conv3×3 → norm → act → conv3×3 → norm, plus the shortcut, → act. The shortcut is a
    1×1 conv (and norm) where the shape changes, the identity elsewhere."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        bias: bool | str,
        norm: str,
        norm_groups: int,
        act: str,
        paired_init: bool = False,
        norm_shift: bool = True,
    ):
        super().__init__()
        # every conv of the block has c_out channels and the same norm after it
        use_bias = has_bias(bias, norm, None, norm_shift, c_out, norm_groups)
        paired = {"bias": use_bias, "paired_init": paired_init}
        self.conv1 = with_bias(nn.Conv2d, c_in, c_out, 3, stride, 1, **paired)
        self.norm1 = norm_layer(norm, c_out, 2, norm_groups, norm_shift)
        self.act1 = activation(act)
        self.conv2 = with_bias(nn.Conv2d, c_out, c_out, 3, 1, 1, **paired)
        self.norm2 = norm_layer(norm, c_out, 2, norm_groups, norm_shift)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                with_bias(nn.Conv2d, c_in, c_out, 1, stride, **paired),
                norm_layer(norm, c_out, 2, norm_groups, norm_shift),
            )
        self.act2 = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.norm1(self.conv1(x)))
        return self.act2(self.norm2(self.conv2(h)) + self.shortcut(x))


class ResNet(nn.Module):
    """3×3 stem (``width`` channels, stride 1, no max-pool) → stages of :class:`BasicBlock`
    (stage i: ``width·2^i`` channels, stride 2 from the second stage on) → global average
    pool → linear head.

    ``depth``: 6n+2 (three stages of n blocks: 8, 14, 20, …) or 18 (four stages of two).
    ``bias`` (true/false/auto) decides every conv, shortcut convs included, through
    :func:`~biaslab.models.layers.has_bias`; ``first_bias`` overrides the stem conv;
    ``head_bias`` is the classifier's own. Conv weights get He (fan-out) initialization, as
    in the paper and torchvision; biases keep PyTorch's default. ``paired_init``: weights
    drawn as though every layer had a bias (:func:`~biaslab.models.layers.with_bias`).
    ``norm_shift=False``: no additive constant in the norms, their scale kept
    (:func:`~biaslab.models.layers.norm_layer`).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        depth: PositiveInt = 20,
        width: PositiveInt = 16,
        bias: Bias = "auto",
        first_bias: OptionalFlag = None,
        head_bias: Flag = True,
        norm: Norm = "batch",
        norm_groups: PositiveInt = 8,
        norm_shift: Flag = True,
        act: Act = "relu",
        paired_init: Flag = False,
    ):
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"ResNet needs images shaped (C, H, W), got {tuple(in_shape)}")
        blocks = stages(depth)
        self.stem = nn.Sequential(
            with_bias(
                nn.Conv2d,
                in_shape[0],
                width,
                3,
                1,
                1,
                bias=has_bias(bias, norm, first_bias, norm_shift, width, norm_groups),
                paired_init=paired_init,
            ),
            norm_layer(norm, width, 2, norm_groups, norm_shift),
            activation(act),
        )
        layers: list[nn.Module] = []
        c_in = width
        for i, n in enumerate(blocks):
            c_out = width * 2**i
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(
                    BasicBlock(
                        c_in,
                        c_out,
                        stride,
                        bias,
                        norm,
                        norm_groups,
                        act,
                        paired_init,
                        norm_shift,
                    )
                )
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.head = with_bias(nn.Linear, c_in, num_classes, bias=head_bias, paired_init=paired_init)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stages(self.stem(x))
        return self.head(h.mean((2, 3)))
