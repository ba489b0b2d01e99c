"""Built bias: how much of what each conv layer computes from its inputs is one constant per
channel.

A net without biases can build a bias out of the mean of its inputs: a channel whose
pre-activation has a large constant part acts as a unit with a bias. For conv layer i and its
output channel k, over the whole test set in eval mode, with z the layer's output WITHOUT its
own bias (what it builds from its inputs), ``c_k`` the mean of ``z_k`` over examples and
positions and ``E[z_k²]`` the mean of its square there::

    share_k = c_k² / E[z_k²]    (in [0, 1]: 1 when z_k is one constant, 0 when its mean is 0)

``built_bias/conv{i}`` is the mean of share_k over the layer's channels; ``const_share/conv{i}``
the same share of the pre-activation (the conv's output with its bias, after the norm that
follows it, if any), so that nets with and without biases compare both ways. A channel that
is 0 everywhere holds no constant: its share is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from biaslab.callbacks.split_pass import log_members, split_batches, summed
from biaslab.models.layers import BatchScale
from biaslab.models.packed import PackedBatchNorm, PackedBatchScale, PackedConv, PackedGroupNorm

CONVS = (nn.Conv1d, nn.Conv2d, PackedConv)
# a conv's norm (nn.Identity is norm=none's): the conv's pre-activation is its output
NORMS = (
    _BatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    BatchScale,
    PackedBatchNorm,
    PackedBatchScale,
    PackedGroupNorm,
    nn.Identity,
)
Reduce = Callable[[torch.Tensor], torch.Tensor]


def built(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The conv's output on ``x`` without its bias: what it builds from its inputs alone
    (computed again, not the output less the bias, which rounding would blur)."""
    if isinstance(conv, PackedConv):
        fn = F.conv1d if conv.dims == 1 else F.conv2d
        weight = conv.weight.flatten(0, 1)
        return fn(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.k)
    return conv._conv_forward(x, conv.weight, None)


def conv_layers(model: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """Every conv of ``model`` in the order ``model.modules()`` holds them, with the module
    whose output is its pre-activation: the norm right after it among the model's leaf
    modules (conv → norm → activation in the CNN; in a ResNet block, before the shortcut is
    added), else the conv itself."""
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    layers = []
    for i, m in enumerate(leaves):
        if isinstance(m, CONVS):
            after = leaves[i + 1] if i + 1 < len(leaves) else None
            layers.append((m, after if isinstance(after, NORMS) else m))
    return layers


class Moments:
    """Per-channel sums of z and z² (float64) and the number of values each channel had,
    over batches shaped ``(B, K·C, *positions)``: K members of C channels each."""

    def __init__(self, channels: int, members: int, device: torch.device):
        self.members = members
        self.sums = torch.zeros(2, channels, dtype=torch.float64, device=device)
        self.count = 0

    def add(self, z: torch.Tensor) -> None:
        z = z.detach().to(torch.float64)
        dims = [0, *range(2, z.dim())]
        self.sums += torch.stack([z.sum(dims), z.square().sum(dims)])
        self.count += z.numel() // z.shape[1]

    def share(self, reduce: Reduce) -> torch.Tensor:
        """(K,): each member's mean over its channels of c_k² / E[z_k²] (after ``reduce``,
        the sums over every rank)."""
        n = torch.tensor([float(self.count)], dtype=torch.float64, device=self.sums.device)
        total = reduce(torch.cat([self.sums.flatten(), n]))
        s1, s2 = total[:-1].view(2, -1)
        # c²/E[z²] = (s1/n)² / (s2/n); a channel that is 0 everywhere (s2 = 0) counts 0
        share = torch.where(s2 > 0, s1.square() / (total[-1] * s2.clamp_min(1e-300)), 0.0)
        return share.view(self.members, -1).mean(1)


def _channels(conv: nn.Module) -> tuple[int, int]:
    """(K·C_out, K) of a conv: a packed conv's weight is (K, C_out, C_in, *kernel)."""
    if isinstance(conv, PackedConv):
        return conv.weight.shape[0] * conv.weight.shape[1], conv.k
    return conv.weight.shape[0], 1


@torch.no_grad()
def measure(
    model: nn.Module, inputs: Iterable[torch.Tensor], reduce: Reduce = lambda t: t
) -> dict[str, torch.Tensor]:
    """``{built_bias/conv{i}, const_share/conv{i}: (K,) per member}`` of ``model`` in eval
    mode over every batch of ``inputs``, read by forward hooks as the batches pass (nothing
    is stored but the sums). ``reduce`` sums a tensor over DDP ranks."""
    layers = conv_layers(model)
    moments: list[tuple[Moments, Moments]] = []
    hooks = []
    for conv, after in layers:
        channels, k = _channels(conv)
        b, p = (Moments(channels, k, conv.weight.device) for _ in range(2))
        moments.append((b, p))

        def on_conv(mod, args, out, b=b):
            b.add(out if mod.bias is None else built(mod, args[0]))

        hooks.append(conv.register_forward_hook(on_conv))
        hooks.append(after.register_forward_hook(lambda mod, args, out, p=p: p.add(out)))
    was_training = model.training
    model.eval()
    try:
        for x in inputs:
            model.forward(x)  # not model(x): a compiled model (model.compile) could skip hooks
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out = {}
    for i, (b, p) in enumerate(moments):
        out[f"built_bias/conv{i}"] = b.share(reduce)
        out[f"const_share/conv{i}"] = p.share(reduce)
    return out


class BuiltBias(L.Callback):
    """After the test epoch, :func:`measure` over the whole test set: ``built_bias/conv{i}``
    and ``const_share/conv{i}`` for every conv layer i (from 0) in ``trainer.callback_metrics``
    (hence results.json) and the logger; in a seed-parallel job per member,
    ``seed=<s>/built_bias/conv{i}``. Needs a model with conv layers."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not conv_layers(pl_module.model):
            raise TypeError(
                "BuiltBias needs a model with conv layers (Conv1d, Conv2d), got "
                f"{type(pl_module.model).__name__}"
            )

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        inputs = (x for x, _ in split_batches(trainer, "test"))
        with trainer.strategy.precision_plugin.test_step_context():
            shares = measure(pl_module.model, inputs, lambda t: summed(trainer, t))
        for name, values in shares.items():
            log_members(pl_module, name, values)
