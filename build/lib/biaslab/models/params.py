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


def decay_groups(model: nn.Module) -> list[dict]:
    """``model``'s parameters as optimizer parameter groups: first every weight (decayed as the
    optimizer says), then biases and norm parameters with ``weight_decay`` 0 (He et al. 2019,
    "Bag of tricks": no decay on biases and batch-norm parameters). A bias is a parameter
    named ``bias*`` (conv, linear and LSTM biases, packed or not); a norm parameter is any
    parameter of a norm layer (packed or not). An empty group is left out."""
    from biaslab.models.packed import PackedBatchNorm, PackedGroupNorm

    norms = (*_NORMS, PackedBatchNorm, PackedGroupNorm)
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, norms) or name.startswith("bias"):
                no_decay.append(p)
            else:
                decay.append(p)
    groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]
