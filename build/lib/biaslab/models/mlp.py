"""A multilayer perceptron on flattened inputs, with the same bias and norm knobs as the CNN."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.layers import activation, has_bias, norm_layer, with_bias
from biaslab.schema import Act, Bias, Flag, Norm, PositiveInt, Probability


class MLP(nn.Module):
    """flatten → (linear → norm → act → dropout) × ``depth`` → linear head. ``paired_init``:
    weights drawn as though every layer had a bias (:func:`~biaslab.models.layers.with_bias`).
    ``norm_shift=False``: no additive constant in the norms, their scale kept
    (:func:`~biaslab.models.layers.norm_layer`).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        width: PositiveInt = 100,
        depth: PositiveInt = 2,
        bias: Bias = True,
        head_bias: Flag = True,
        norm: Norm = "none",
        norm_shift: Flag = True,
        act: Act = "relu",
        dropout: Probability = 0.0,
        paired_init: Flag = False,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = math.prod(in_shape)
        for _ in range(depth):
            layers += [
                with_bias(
                    nn.Linear,
                    n_in,
                    width,
                    bias=has_bias(bias, norm, None, norm_shift, width),
                    paired_init=paired_init,
                ),
                norm_layer(norm, width, dims=0, shift=norm_shift),
                activation(act),
            ]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = width
        self.features = nn.Sequential(*layers)
        self.head = with_bias(nn.Linear, n_in, num_classes, bias=head_bias, paired_init=paired_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
