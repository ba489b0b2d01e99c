"""model=resnet and model=vgg on images; model.compile."""

import pytest
import torch
from torch import nn

from biaslab.models.build import build_model
from biaslab.models.params import count_params
from biaslab.models.resnet import ResNet, stages

CIFAR = (3, 32, 32)


def convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize(
    "depth, blocks", [(8, [1, 1, 1]), (14, [2, 2, 2]), (20, [3, 3, 3]), (18, [2, 2, 2, 2])]
)
def test_depths(depth, blocks):
    assert stages(depth) == blocks
    model = ResNet(CIFAR, 10, depth=depth, width=4)
    assert len(model.stages) == sum(blocks)
    assert model.head.in_features == 4 * 2 ** (len(blocks) - 1)
    assert model(torch.zeros(2, *CIFAR)).shape == (2, 10)
    # a 3×3 stem at full resolution: no max-pool, no stride
    stem = model.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())


@pytest.mark.parametrize("depth", [7, 9, 12, 16, 2])
def test_other_depths_are_refused(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        ResNet(CIFAR, 10, depth=depth)


def test_resnet20_has_the_papers_size():
    # He et al. 2016, table 6: ResNet-20 on CIFAR-10 has 0.27 M parameters
    counts = count_params(ResNet(CIFAR, 10, depth=20, width=16, bias=False))
    assert counts["params/total"] == 272_474
    assert counts["params/bias"] == 10  # the head's only


@pytest.mark.parametrize("depth", [8, 20, 18])
def test_bias_true_adds_one_bias_per_conv_output_channel(depth):
    with_bias = count_params(ResNet(CIFAR, 10, depth=depth, width=4, bias=True, norm="batch"))
    without = ResNet(CIFAR, 10, depth=depth, width=4, bias=False, norm="batch")
    channels = sum(c.out_channels for c in convs(without))  # shortcut convs included
    assert with_bias["params/total"] - count_params(without)["params/total"] == channels
    assert with_bias["params/bias"] == channels + 10


def test_bias_counts_for_resnet8_width4():
    # stem 4; stage 1: 4 + 4; stage 2: 8 + 8 + shortcut 8; stage 3: 16 + 16 + shortcut 16
    model = ResNet(CIFAR, 10, depth=8, width=4, bias=True, norm="batch")
    assert sum(c.bias.numel() for c in convs(model)) == 84
    shortcuts = [c for c in convs(model) if c.kernel_size == (1, 1)]
    assert [c.out_channels for c in shortcuts] == [8, 16]
    assert all(c.bias is not None for c in shortcuts)


def test_auto_equals_false_with_batch_norm():
    auto = ResNet(CIFAR, 10, depth=8, width=8, bias="auto", norm="batch")
    off = ResNet(CIFAR, 10, depth=8, width=8, bias=False, norm="batch")
    assert count_params(auto) == count_params(off)
    assert all(c.bias is None for c in convs(auto))


@pytest.mark.parametrize("norm", ["none", "group", "layer"])
def test_auto_equals_true_where_nothing_cancels_the_bias(norm):
    # 4 groups of 2 or more channels: not instance norm, which would cancel the bias
    auto = ResNet(CIFAR, 10, depth=8, width=8, bias="auto", norm=norm, norm_groups=4)
    on = ResNet(CIFAR, 10, depth=8, width=8, bias=True, norm=norm, norm_groups=4)
    assert count_params(auto) == count_params(on)
    assert all(c.bias is not None for c in convs(auto))


def test_first_bias_and_head_bias():
    model = ResNet(CIFAR, 10, depth=8, width=4, bias=False, first_bias=True, head_bias=False)
    assert [c.bias is not None for c in convs(model)] == [True] + [False] * 8
    assert model.head.bias is None


def test_default_preset_is_resnet20_with_batch_norm_and_auto_bias(make_cfg):
    cfg = make_cfg("model=resnet", "data=cifar10")
    assert (cfg.model.depth, cfg.model.width, cfg.model.bias, cfg.model.norm) == (
        20,
        16,
        "auto",
        "batch",
    )
    model = build_model(cfg.model, CIFAR, 10)
    assert all(c.bias is None for c in convs(model))
    # on MNIST-sized images too: 28 → 14 → 7
    assert build_model(cfg.model, (1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_vgg_preset_is_the_cnn_on_colour_images(make_cfg):
    model = build_model(make_cfg("model=vgg", "data=cifar10").model, CIFAR, 10)
    assert [c.out_channels for c in convs(model)] == [32, 64, 128, 256]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 4
    assert all(c.bias is None for c in convs(model))  # bias=auto under batch norm
    x = torch.randn(4, *CIFAR)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def traced_forward(model: nn.Module, x: torch.Tensor) -> tuple[bool, torch.Tensor]:
    """Whether torch's compiler traced the model's forward (hooks run inside it), and the
    output."""
    seen = []
    handle = model.register_forward_hook(lambda *_: seen.append(torch.compiler.is_compiling()))
    out = model(x)
    handle.remove()
    return seen == [True], out


@pytest.mark.parametrize("option", ["cnn", "resnet", "vgg", "mlp"])
def test_compile_is_off_by_default(make_cfg, option):
    cfg = make_cfg(f"model={option}", "data=cifar10")
    assert cfg.model.compile is False
    model = build_model(cfg.model, CIFAR, 10)
    traced, _ = traced_forward(model, torch.zeros(2, *CIFAR))
    assert not traced


def test_compile_true_compiles_the_model_in_place(make_cfg, monkeypatch):
    # Inductor takes about a minute on a 2-core CPU; Dynamo's "eager" backend traces the
    # forward as compile=true asks, and runs the captured graph without generating code.
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compile_(fn, **kw, backend="eager"))
    overrides = ("model=resnet", "data=cifar10", "model.depth=8")
    torch.manual_seed(0)
    plain = build_model(make_cfg(*overrides).model, CIFAR, 10).eval()
    torch.manual_seed(0)
    model = build_model(make_cfg(*overrides, "model.compile=true").model, CIFAR, 10).eval()
    assert isinstance(model, ResNet)
    assert model.state_dict().keys() == plain.state_dict().keys()  # checkpoints unchanged
    x = torch.randn(4, *CIFAR)
    traced, out = traced_forward(model, x)
    assert traced
    torch.testing.assert_close(out, plain(x))
