"""bias=auto drops exactly the biases a batch norm cancels, and model.norm_shift=false leaves
no additive constant in the norms (checked in float64 on the project's own builders)."""

import copy

import pytest
import torch
from torch import nn

from biaslab.models.cnn import CNN
from biaslab.models.layers import BatchScale, has_bias
from biaslab.models.mlp import MLP
from biaslab.models.params import count_params
from biaslab.models.resnet import ResNet

IMAGE = (1, 12, 12)


def _cnn(**kw) -> CNN:
    torch.manual_seed(0)
    args = {"width": 8, "depth": 2, "kernel_size": 3, "stride": 1, "pool": "max"}
    return CNN(IMAGE, 10, **{**args, **kw}).double()


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def _with_moved_conv_biases(model: nn.Module) -> nn.Module:
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for conv in _convs(moved):
            conv.bias.add_(torch.randn_like(conv.bias) * 3)
    return moved


@pytest.mark.parametrize("norm", ["batch", "group", "layer"])
def test_auto_drops_a_bias_exactly_where_changing_it_cannot_change_the_output(norm):
    x = torch.randn(32, *IMAGE, dtype=torch.float64)
    # 16 channels in groups of 4: group norm is not instance norm here
    with_biases = _cnn(bias=True, norm=norm, width=16, norm_groups=4).train()
    moved = _with_moved_conv_biases(with_biases)
    unchanged = torch.allclose(with_biases(x), moved(x), atol=1e-10)
    auto = _cnn(bias="auto", norm=norm, width=16, norm_groups=4)
    dropped = all(c.bias is None for c in _convs(auto))
    # batch norm: the output ignores the biases and auto drops them; group/layer norm: moving
    # the biases moves the output (they are not redundant) and auto keeps them
    assert unchanged == dropped == (norm == "batch")
    assert all(c.bias is not None for c in _convs(auto)) == (norm != "batch")


def test_auto_drops_a_bias_under_group_norm_only_with_one_channel_per_group():
    # one channel per group is instance norm: each channel's own mean is subtracted, exactly
    # as batch norm does per example, so the bias cancels
    x = torch.randn(8, *IMAGE, dtype=torch.float64)
    instance = _cnn(bias=True, norm="group", norm_groups=8)  # 8 channels, 8 groups
    torch.testing.assert_close(instance(x), _with_moved_conv_biases(instance)(x))
    assert all(c.bias is None for c in _convs(_cnn(bias="auto", norm="group", norm_groups=8)))
    assert has_bias("auto", "group", channels=16, groups=8) is True  # 2 channels per group
    assert has_bias("auto", "group", channels=8, groups=8) is False


def test_auto_keeps_a_bias_no_batch_mean_cancels():
    # the bias-free batch norm subtracts no mean, so nothing cancels the bias: it stays
    assert has_bias("auto", "batch") is False
    assert has_bias("auto", "batch", norm_shift=False) is True
    assert has_bias("auto", "none") is True


@pytest.mark.parametrize(
    "args, match",
    [
        (("off", "batch"), "bias must be one of true, false, auto, got 'off'"),
        ((1, "none"), "bias must be one of true, false, auto, got 1"),
        ((None, "none"), "bias must be one of true, false, auto, got None"),
        (("auto", "instance"), "norm must be one of none, batch, group, layer, got 'instance'"),
        ((True, "none", "yes"), "a bias override must be null, true or false, got 'yes'"),
        (("auto", "group"), "bias=auto under norm=group needs the layer's channel count"),
    ],
)
def test_the_bias_rule_refuses_values_it_does_not_know(args, match):
    with pytest.raises(ValueError, match=match):
        has_bias(*args)
    if args[0] == "off":  # through a model's constructor too
        with pytest.raises(ValueError, match=match):
            CNN(IMAGE, 10, bias="off", kernel_size=3)


@pytest.mark.parametrize("norm", ["batch", "group", "layer"])
def test_no_norm_shift_leaves_no_additive_parameter(norm):
    model = _cnn(bias=False, head_bias=False, norm=norm, norm_shift=False)
    shifted = _cnn(bias=False, head_bias=False, norm=norm)
    counts, with_shift = count_params(model), count_params(shifted)
    assert counts["params/bias"] == counts["params/norm_shift"] == 0
    assert with_shift["params/norm_shift"] == 2 * 8  # β per channel of the two norms
    assert counts["params/norm"] == with_shift["params/norm"] - 2 * 8  # the scales stay
    assert counts["params/total"] == with_shift["params/total"] - 2 * 8
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.endswith("bias") for n in names), names
    if norm == "batch":
        assert sum(isinstance(m, BatchScale) for m in model.modules()) == 2


def _eval_after_training_steps(model: nn.Module) -> nn.Module:
    model.train()
    with torch.no_grad():
        for _ in range(3):  # moves the running statistics away from their start
            model(torch.rand(64, *IMAGE, dtype=torch.float64) * 2 + 0.5)
    return model.eval()


def test_a_net_without_any_additive_constant_is_positively_homogeneous():
    # Mohan et al.'s bias-free net: f(a x) = a f(x), so a contrast change never changes the
    # predicted class. Removing β alone would not do: eval-mode batch norm subtracts its
    # running mean, a constant.
    x = torch.rand(16, *IMAGE, dtype=torch.float64)
    free = _eval_after_training_steps(
        _cnn(bias=False, head_bias=False, norm="batch", norm_shift=False)
    )
    torch.testing.assert_close(free(0.25 * x), 0.25 * free(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(free(3.0 * x), 3.0 * free(x), rtol=1e-10, atol=1e-12)
    usual = _eval_after_training_steps(_cnn(bias=False, head_bias=False, norm="batch"))
    assert not torch.allclose(usual(0.25 * x), 0.25 * usual(x), rtol=1e-3)


def test_batch_scale_divides_by_the_batch_std_and_tracks_it():
    torch.manual_seed(0)
    norm = BatchScale(3).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
    x = torch.randn(20, 3, 5, 5, dtype=torch.float64) * 4 + 7
    std = x.var((0, 2, 3), unbiased=False).add(1e-5).sqrt().view(1, 3, 1, 1)
    torch.testing.assert_close(norm(x), x / std * norm.weight.view(1, 3, 1, 1))
    # the running variance moves as nn.BatchNorm2d's does (unbiased, momentum 0.1)
    reference = nn.BatchNorm2d(3).double()
    reference(x)
    torch.testing.assert_close(norm.running_var, reference.running_var)
    norm.eval()
    rv = norm.running_var.add(1e-5).sqrt().view(1, 3, 1, 1)
    torch.testing.assert_close(norm(x), x / rv * norm.weight.view(1, 3, 1, 1))


def test_norm_shift_reaches_every_norm_of_the_mlp_and_resnet():
    mlp = MLP((1, 40), 10, width=16, norm="layer", norm_shift=False)
    assert count_params(mlp)["params/norm_shift"] == 0
    assert count_params(mlp)["params/norm"] == 2 * 16
    resnet = ResNet((3, 8, 8), 10, depth=8, width=4, bias=False, norm="batch", norm_shift=False)
    usual = ResNet((3, 8, 8), 10, depth=8, width=4, bias=False, norm="batch")
    n_norm = count_params(usual)["params/norm"]
    assert count_params(usual)["params/norm_shift"] == n_norm // 2
    assert count_params(resnet)["params/norm"] == n_norm // 2
    assert count_params(resnet)["params/norm_shift"] == 0
    assert resnet(torch.randn(4, 3, 8, 8)).shape == (4, 10)
