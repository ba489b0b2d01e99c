"""Parameter counts: the one definition of what counts as a bias."""

from __future__ import annotations

from torch import nn

from biaslab.models.layers import BatchScale

# Layers whose `bias` (or `bias_*`) parameters are the biases under study. Norm shifts are
# affine parameters of a norm layer and are counted apart.
_BIASED = (nn.modules.conv._ConvNd, nn.Linear, nn.RNNBase)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, BatchScale)


def count_params(model: nn.Module) -> dict[str, int]:
    """``params/total``, ``params/trainable``, ``params/bias``, ``params/norm`` (every
    parameter of a norm layer) and ``params/norm_shift`` (the norms' shifts β, part of
    ``params/norm``): ``params/bias + params/norm_shift`` is every learned additive constant."""
    counts = {
        "params/total": 0,
        "params/trainable": 0,
        "params/bias": 0,
        "params/norm": 0,
        "params/norm_shift": 0,
    }
    for p in model.parameters():
        counts["params/total"] += p.numel()
        counts["params/trainable"] += p.numel() if p.requires_grad else 0
    for module in model.modules():
        own = dict(module.named_parameters(recurse=False))
        if isinstance(module, _BIASED):
            counts["params/bias"] += sum(p.numel() for n, p in own.items() if n.startswith("bias"))
        elif isinstance(module, _NORMS):
            counts["params/norm"] += sum(p.numel() for p in own.values())
            counts["params/norm_shift"] += own["bias"].numel() if "bias" in own else 0
    return counts
