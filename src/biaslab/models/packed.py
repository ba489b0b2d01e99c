"""K copies of one CNN or MLP, each with its own weights, packed into a single model.

Layout: every activation is ``(B, K·C, ...)``, member k owning channels ``[k·C, (k+1)·C)``.
Each layer then works per member by construction:

- a conv ``C_in → C_out`` becomes one grouped conv ``K·C_in → K·C_out`` with ``groups=K``;
- a linear layer (MLP hidden layers and every head) is a batched matmul against a
  ``(K, out, in)`` weight (``einsum``);
- batch norm over ``K·C`` channels is per channel, hence per member (so is the bias-free
  :class:`~biaslab.models.layers.BatchScale`); group norm with ``G``
  groups becomes ``K·G`` groups, and a layer norm (one group, or ``nn.LayerNorm`` over
  features) becomes ``K`` groups;
- activations, max-pooling and dropout are elementwise or per channel.

Every packed parameter and buffer has the member as its leading dimension (a conv weight is
stored ``(K, C_out, C_in, *kernel)`` and viewed as the grouped weight in ``forward``), so
member k's state is ``t[k]`` for every tensor: :meth:`PackedModel.member_state_dict` returns
it under the member model's own names, and :meth:`PackedModel.retire` zeroes it.

Grouped convolution was measured against K separate convs on channel slices and against
unfold + einsum, and einsum against a grouped 1×1 conv for linear layers (2-CPU figures in
docs/performance.md, "Layer formulations"): grouped conv was 2-3x faster than separate convs at
width 8 and as fast at width 25; einsum was several times faster than the 1×1 conv. In float64
a member's forward pass equals its own model's bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from biaslab.models.cnn import CNN
from biaslab.models.layers import BatchScale, batch_scale
from biaslab.models.mlp import MLP

_CONV_FN = {1: F.conv1d, 2: F.conv2d}
# Modules that act per element or per channel: the same module works on K·C channels.
_SHARED = (nn.ReLU, nn.GELU, nn.Dropout, nn.Identity, nn.MaxPool1d, nn.MaxPool2d, nn.Flatten)


class NotPackable(TypeError):
    """A member model holds a layer that has no packed form."""


def _stack(tensors: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    if tensors[0] is None:
        return None
    return torch.stack([t.detach().clone() for t in tensors])


def _param(tensors: Sequence[torch.Tensor | None]) -> nn.Parameter | None:
    stacked = _stack(tensors)
    return None if stacked is None else nn.Parameter(stacked)


class PackedConv(nn.Module):
    """K ``Conv{1,2}d`` as one grouped conv; weight ``(K, C_out, C_in, *kernel)``.

    A padding mode other than ``zeros`` pads explicitly first (``F.pad`` acts per channel, so
    per member), then convolves without padding, as torch's own conv does; ``zeros`` pads
    inside the conv, as before."""

    def __init__(self, convs: Sequence[nn.modules.conv._ConvNd]):
        super().__init__()
        c = convs[0]
        if c.groups != 1 or isinstance(c.padding, str):
            raise NotPackable(f"only convs with groups=1 and integer padding pack, got {c}")
        self.k, self.dims = len(convs), c.weight.dim() - 2
        self.stride, self.padding, self.dilation = c.stride, c.padding, c.dilation
        self.padding_mode = c.padding_mode
        # F.pad's order: the last dim first, (before, after) for each
        self.pad = tuple(p for p in reversed(c.padding) for _ in range(2))
        self.weight = _param([m.weight for m in convs])
        self.bias = _param([m.bias for m in convs])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.flatten()
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = F.pad(x, self.pad, mode=self.padding_mode), 0
        return _CONV_FN[self.dims](
            x, self.weight.flatten(0, 1), bias, self.stride, padding, self.dilation, self.k
        )


class PackedLinear(nn.Module):
    """K ``Linear`` layers on ``(B, K·in)``: a batched matmul with a ``(K, out, in)`` weight."""

    def __init__(self, linears: Sequence[nn.Linear]):
        super().__init__()
        self.k = len(linears)
        self.weight = _param([m.weight for m in linears])
        self.bias = _param([m.bias for m in linears])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bki,koi->bko", x.unflatten(1, (self.k, -1)), self.weight)
        if self.bias is not None:
            out = out + self.bias
        return out.flatten(1)


class PackedBatchNorm(nn.Module):
    """K batch norms over C channels as one over K·C channels (statistics are per channel)."""

    def __init__(self, norms: Sequence[_BatchNorm]):
        super().__init__()
        n = norms[0]
        if not (n.affine and n.track_running_stats):
            raise NotPackable(f"only affine batch norms with running stats pack, got {n}")
        self.eps, self.momentum = n.eps, n.momentum
        self.weight = _param([m.weight for m in norms])
        self.bias = _param([m.bias for m in norms])  # None without a shift
        self.register_buffer("running_mean", _stack([m.running_mean for m in norms]))
        self.register_buffer("running_var", _stack([m.running_var for m in norms]))
        self.register_buffer("num_batches_tracked", _stack([m.num_batches_tracked for m in norms]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = self.momentum
        if self.training:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average, as nn.BatchNorm does
                factor = 1.0 / float(self.num_batches_tracked[0])
        # views of the (K, C) buffers: F.batch_norm updates them in place
        return F.batch_norm(
            x,
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.weight.flatten(),
            None if self.bias is None else self.bias.flatten(),
            self.training,
            factor,
            self.eps,
        )


class PackedBatchScale(nn.Module):
    """K :class:`~biaslab.models.layers.BatchScale` over C channels as one over K·C."""

    def __init__(self, norms: Sequence[BatchScale]):
        super().__init__()
        self.eps, self.momentum = norms[0].eps, norms[0].momentum
        self.weight = _param([m.weight for m in norms])
        self.register_buffer("running_var", _stack([m.running_var for m in norms]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a view of the (K, C) buffer: batch_scale updates it in place
        return batch_scale(
            x,
            self.running_var.view(-1),
            self.weight.flatten(),
            self.training,
            self.momentum,
            self.eps,
        )


class PackedGroupNorm(nn.Module):
    """K group norms with G groups as one with K·G groups; a layer norm is G = 1 (for conv
    features ``GroupNorm(1, C)``, for vectors ``nn.LayerNorm(C)``, the same statistics)."""

    def __init__(self, norms: Sequence[nn.GroupNorm | nn.LayerNorm]):
        super().__init__()
        n = norms[0]
        if isinstance(n, nn.LayerNorm):
            if len(n.normalized_shape) != 1 or not n.elementwise_affine:
                raise NotPackable(f"only an affine LayerNorm over one dim packs, got {n}")
            groups = 1
        else:
            if not n.affine:
                raise NotPackable(f"only affine group norms pack, got {n}")
            groups = n.num_groups
        self.groups, self.eps = len(norms) * groups, n.eps
        self.weight = _param([m.weight for m in norms])
        self.bias = _param([m.bias for m in norms])  # None without a shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.flatten()
        return F.group_norm(x, self.groups, self.weight.flatten(), bias, self.eps)


def pack_layers(members: Sequence[nn.Module]) -> nn.Module:
    """The packed form of one layer (or ``nn.Sequential`` of layers) of every member."""
    m = members[0]
    if any(type(other) is not type(m) for other in members):
        raise NotPackable("members differ in structure")
    if isinstance(m, nn.Sequential):
        if any(len(other) != len(m) for other in members):
            raise NotPackable("members differ in depth")
        return nn.Sequential(*(pack_layers([s[i] for s in members]) for i in range(len(m))))
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        return PackedConv(members)
    if isinstance(m, nn.Linear):
        return PackedLinear(members)
    if isinstance(m, _BatchNorm):
        return PackedBatchNorm(members)
    if isinstance(m, BatchScale):
        return PackedBatchScale(members)
    if isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
        return PackedGroupNorm(members)
    if isinstance(m, _SHARED):
        return copy.deepcopy(m)  # stateless: a copy keeps the members' train/eval flags apart
    raise NotPackable(f"no packed form for {type(m).__name__}")


class PackedModel(nn.Module):
    """K members of one :class:`CNN` or :class:`MLP` config in one model.

    ``forward`` takes ``(B, K, *input_shape)``, member k's batch at ``[:, k]``, and returns
    ``(B, K, num_classes)``. The members are copied at construction: member k starts with
    exactly ``members[k]``'s weights and buffers.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        first = members[0]
        if not isinstance(first, (CNN, MLP)) or any(type(m) is not type(first) for m in members):
            raise NotPackable(f"only CNN and MLP members pack, got {type(first).__name__}")
        self.k = len(members)
        self.conv = isinstance(first, CNN)
        self.global_pool = bool(getattr(first, "global_pool", False))
        self.features = pack_layers([m.features for m in members])
        self.head = PackedLinear([m.head for m in members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # CNN: (B, K, C, *S) -> (B, K·C, *S); MLP: its leading nn.Flatten gives (B, K·D)
        h = self.features(x.flatten(1, 2) if self.conv else x)
        if self.conv:
            h = h.unflatten(1, (self.k, -1))  # (B, K, C, *S)
            h = h.flatten(3).mean(3) if self.global_pool else h.flatten(2)
            h = h.flatten(1)
        return self.head(h).unflatten(1, (self.k, -1))

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member k's weights and buffers under the member model's own names."""
        return {name: t[k].detach().clone() for name, t in self.state_dict().items()}

    @torch.no_grad()
    def retire(self, k: int) -> None:
        """Zero member k's weights and norm statistics (unit running variance), so that a
        member whose weights became NaN/inf computes finite zeros from then on."""
        for name, t in self.state_dict().items():
            t[k] = 1.0 if name.endswith("running_var") else 0.0
