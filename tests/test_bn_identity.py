"""The exact claim behind "batch norm absorbs the conv bias", checked on the project's own
model builder in float64: in training mode the bias gets no gradient and cannot change the
output; in eval mode it folds into the running mean."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from biaslab.models.cnn import CNN


def _conv_bn_pairs(model):
    mods = list(model.features)
    return [(m, mods[i + 1]) for i, m in enumerate(mods) if isinstance(m, nn.modules.conv._ConvNd)]


@pytest.mark.parametrize("in_shape", [(1, 40), (3, 16, 16)])
def test_conv_bias_before_batch_norm_gets_zero_gradient(in_shape):
    torch.manual_seed(0)
    model = CNN(in_shape, 10, width=8, bias=True, norm="batch", kernel_size=3).double().train()
    x = torch.randn(32, *in_shape, dtype=torch.float64)
    y = torch.randint(0, 10, (32,))
    F.cross_entropy(model(x), y).backward()
    for conv, bn in _conv_bn_pairs(model):
        assert isinstance(bn, nn.modules.batchnorm._BatchNorm)
        ratio = conv.bias.grad.abs().max() / conv.weight.grad.abs().max()
        assert ratio <= 1e-6, f"bias gradient {ratio:.2e} of the weight gradient"


def test_changing_the_bias_does_not_change_the_training_output():
    torch.manual_seed(0)
    model = CNN((1, 40), 10, width=8, bias=True, norm="batch").double().train()
    x = torch.randn(64, 1, 40, dtype=torch.float64)
    shifted = copy.deepcopy(model)
    with torch.no_grad():
        for conv, _ in _conv_bn_pairs(shifted):
            conv.bias.add_(torch.randn_like(conv.bias) * 5)
    assert torch.allclose(model(x), shifted(x), atol=1e-10)


def test_without_a_norm_the_bias_matters():
    # the control: the identity is about the norm, not about biases in general
    torch.manual_seed(0)
    model = CNN((1, 40), 10, width=8, bias=True, norm="none").double()
    x = torch.randn(64, 1, 40, dtype=torch.float64)
    shifted = copy.deepcopy(model)
    with torch.no_grad():
        for conv, _ in _conv_bn_pairs(shifted):
            conv.bias.add_(1.0)
    assert not torch.allclose(model(x), shifted(x), atol=1e-6)


def test_eval_mode_bias_folds_into_the_running_mean():
    torch.manual_seed(0)
    model = CNN((1, 40), 10, width=8, bias=True, norm="batch").double().train()
    for _ in range(5):  # populate running statistics
        model(torch.randn(64, 1, 40, dtype=torch.float64))
    model.eval()
    folded = copy.deepcopy(model)
    with torch.no_grad():
        for conv, bn in _conv_bn_pairs(folded):
            bn.running_mean.sub_(conv.bias)
            conv.bias.zero_()
    x = torch.randn(16, 1, 40, dtype=torch.float64)
    assert torch.allclose(model(x), folded(x), atol=1e-10)


def test_with_paired_init_a_bias_before_batch_norm_leaves_training_unchanged():
    # same seed, same weights (paired_init), with and without conv biases: under batch norm
    # in training mode the two train identically, to float64 rounding, step after step
    def train(bias, steps=20):
        torch.manual_seed(0)
        model = CNN((1, 40), 10, width=8, norm="batch", bias=bias, paired_init=True).double()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        data = torch.Generator().manual_seed(1)
        for _ in range(steps):
            x = torch.randn(64, 1, 40, generator=data, dtype=torch.float64)
            y = torch.randint(0, 10, (64,), generator=data)
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return {k: v for k, v in model.state_dict().items() if "weight" in k}

    with_bias, without = train(True), train(False)
    for k in with_bias:
        assert torch.allclose(with_bias[k], without[k], rtol=0, atol=1e-12), k
