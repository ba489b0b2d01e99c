import json

import pytest
import torch
from torch import nn

from biaslab.config.compose import ROOT
from biaslab.models.build import build_model
from biaslab.models.cnn import CNN
from biaslab.models.layers import has_bias
from biaslab.models.mlp import MLP
from biaslab.models.params import count_params
from biaslab.models.resnet import ResNet
from biaslab.resume import fingerprint

MNIST1D = (1, 40)
# a published record of a CNN run, made before model.padding_mode and model.bias_block existed
PUBLISHED_CNN = ROOT / "results/bias_vs_width/runs/tuned/3/seed=3/results.json"


def conv_biases(model: nn.Module) -> int:
    return sum(
        m.bias.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.conv._ConvNd) and m.bias is not None
    )


@pytest.mark.parametrize(
    "bias, norm, override, expected",
    [
        (True, "none", None, True),
        (False, "none", None, False),
        (True, "batch", None, True),
        (False, "batch", None, False),
        ("auto", "none", None, True),
        ("auto", "batch", None, False),
        ("auto", "group", None, True),  # group/layer norm cancel only the group mean
        ("auto", "layer", None, True),
        (False, "none", True, True),
        (True, "none", False, False),
        ("auto", "batch", True, True),
    ],
)
def test_bias_rule(bias, norm, override, expected):
    assert has_bias(bias, norm, override, channels=16) is expected


@pytest.mark.parametrize("bias, norm", [(True, "none"), (False, "none"), ("auto", "batch")])
def test_bias_block_alone_has_a_bias_whatever_bias_says(bias, norm):
    assert [has_bias(bias, norm, None, block=i, bias_block=1) for i in range(3)] == [
        False,
        True,
        False,
    ]
    with pytest.raises(ValueError, match="first_bias"):  # both choose the biased layers
        has_bias(bias, norm, True, block=0, bias_block=1)


@pytest.mark.parametrize("block", [0, 1, 2])
@pytest.mark.parametrize("bias, norm", [(True, "none"), (False, "none"), ("auto", "batch")])
def test_bias_block_gives_one_conv_block_a_bias(block, bias, norm):
    model = CNN(MNIST1D, 10, bias=bias, bias_block=block, norm=norm)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert [c.bias is not None for c in convs] == [i == block for i in range(3)]
    assert model.head.bias is not None  # head_bias is its own knob
    counts = count_params(model)
    assert counts["params/bias"] == 25 + 10
    assert counts["params/total"] == 5135 + 25 + counts["params/norm"]


def test_bias_block_out_of_range_or_with_first_bias_is_refused():
    with pytest.raises(
        ValueError, match=r"^bias_block must be null or a block index from 0 to 2, got 3$"
    ):
        CNN(MNIST1D, 10, bias_block=3)
    with pytest.raises(
        ValueError, match=r"^bias_block must be null or a block index from 0 to 1, got 2$"
    ):
        CNN(MNIST1D, 10, channels=[4, 4], kernel_size=3, bias_block=2)
    with pytest.raises(ValueError, match=r"^bias_block=1 with first_bias=false: set one of them"):
        CNN(MNIST1D, 10, bias_block=1, first_bias=False)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape", [MNIST1D, (3, 6, 9)], ids=["1d", "2d"])
def test_padding_mode_reaches_every_conv(mode, shape):
    torch.manual_seed(0)
    model = CNN(shape, 10, width=4, depth=2, kernel_size=3, stride=1, padding_mode=mode)
    convs = [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    assert len(convs) == 2 and all(c.padding_mode == mode for c in convs)
    torch.manual_seed(0)
    zeros = CNN(shape, 10, width=4, depth=2, kernel_size=3, stride=1)
    # the same weights for the same seed: only what the convs pad with differs
    same = zeros.state_dict()
    assert all(torch.equal(t, same[k]) for k, t in model.state_dict().items())
    x = torch.randn(2, *shape) + 1.0
    assert torch.equal(model(x), zeros(x)) is (mode == "zeros")


def test_default_cnn_is_the_paper_convbase(make_cfg):
    cfg = make_cfg()
    model = build_model(cfg.model, MNIST1D, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert [
        (c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs
    ] == [(1, 25, 5, 2, 1), (25, 25, 3, 2, 1), (25, 25, 3, 2, 1)]
    assert model.head.in_features == 125 and model.head.out_features == 10
    counts = count_params(model)
    assert counts["params/total"] == 5210
    assert counts["params/bias"] == 75 + 10
    assert conv_biases(model) == 75


def test_convbase_without_bias_has_5135_parameters(make_cfg):
    model = build_model(make_cfg("model.bias=false").model, MNIST1D, 10)
    assert count_params(model)["params/total"] == 5135
    assert conv_biases(model) == 0
    assert model.head.bias is not None  # head_bias is its own knob


def test_auto_bias_with_batch_norm_drops_every_conv_bias(make_cfg):
    cfg = make_cfg("model.bias=auto", "model.norm=batch")
    model = build_model(cfg.model, MNIST1D, 10)
    counts = count_params(model)
    assert conv_biases(model) == 0
    assert counts["params/norm"] == 3 * 2 * 25  # BN weight + shift per channel
    assert counts["params/total"] == 5135 + 150


def test_first_bias_overrides_only_the_first_conv():
    model = CNN(MNIST1D, 10, bias=False, first_bias=True)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert [c.bias is not None for c in convs] == [True, False, False]
    model = CNN(MNIST1D, 10, bias=True, first_bias=False, head_bias=False)
    assert [c.bias is not None for c in model.modules() if isinstance(c, nn.Conv1d)] == [
        False,
        True,
        True,
    ]
    assert model.head.bias is None


def test_conv_dimension_follows_the_input_shape():
    one_d = CNN((1, 40), 10)
    two_d = CNN((1, 8, 8), 10, kernel_size=3, padding=1)
    assert all(not isinstance(m, nn.Conv2d) for m in one_d.modules())
    assert sum(isinstance(m, nn.Conv2d) for m in two_d.modules()) == 3
    assert two_d(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert one_d(torch.zeros(2, 1, 40)).shape == (2, 10)


def test_width_mult_channels_and_global_pool():
    model = CNN(
        (3, 32, 32),
        10,
        width=8,
        depth=3,
        width_mult=2,
        kernel_size=3,
        stride=1,
        pool="max",
        global_pool=True,
    )
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32]
    assert model.head.in_features == 32
    explicit = CNN((1, 40), 10, channels=[4, 6], kernel_size=3)
    assert [c.out_channels for c in explicit.modules() if isinstance(c, nn.Conv1d)] == [4, 6]


@pytest.mark.parametrize(
    "norm, layer", [("batch", nn.BatchNorm1d), ("group", nn.GroupNorm), ("layer", nn.GroupNorm)]
)
def test_norm_follows_each_conv(norm, layer):
    model = CNN((1, 40), 10, width=12, norm=norm, bias="auto")
    norms = [m for m in model.modules() if isinstance(m, layer)]
    assert len(norms) == 3
    if norm == "group":
        assert norms[0].num_groups == 4  # gcd(8, 12)
    if norm == "layer":
        assert norms[0].num_groups == 1


def test_mlp_counts_and_bias_rule():
    mlp = MLP((1, 40), 10, width=100, depth=2, bias=False)
    # 40*100 + 100*100 + (100*10 + 10)
    assert count_params(mlp)["params/total"] == 4000 + 10000 + 1010
    assert count_params(mlp)["params/bias"] == 10
    auto = MLP((1, 40), 10, width=100, depth=2, bias="auto", norm="batch")
    assert count_params(auto)["params/bias"] == 10
    assert count_params(auto)["params/norm"] == 2 * 2 * 100
    kept = MLP((1, 40), 10, width=100, depth=2, bias="auto", norm="layer")
    assert count_params(kept)["params/bias"] == 2 * 100 + 10  # layer norm does not cancel them


PAIRED = {  # builder, input shape, the bias settings a study compares
    "cnn": (lambda **kw: CNN((1, 40), 10, width=8, norm="batch", **kw), ["auto", False, True]),
    "mlp": (lambda **kw: MLP((1, 40), 10, width=16, **kw), [False, True]),
    "resnet": (lambda **kw: ResNet((3, 8, 8), 10, depth=8, width=4, **kw), ["auto", False, True]),
}


@pytest.mark.parametrize("name", PAIRED)
def test_paired_init_starts_every_bias_setting_from_the_same_weights(name):
    build, settings = PAIRED[name]

    def weights(paired, bias, first_bias=None, **kw):
        torch.manual_seed(0)
        kw |= {"first_bias": first_bias} if name != "mlp" else {}
        model = build(bias=bias, head_bias=bias is True, paired_init=paired, **kw)
        return {k: v for k, v in model.state_dict().items() if not k.endswith(".bias")}, model

    reference, with_biases = weights(True, True)
    for bias in settings:
        same, model = weights(True, bias)
        assert same.keys() == reference.keys()
        assert all(torch.equal(same[k], reference[k]) for k in same), bias
        # the bias rule still decides which layers have one
        plain = weights(False, bias)[1]
        assert count_params(model) == count_params(plain)
    if name != "mlp":  # first_bias pairs the same way
        same = weights(True, False, first_bias=True)[0]
        assert all(torch.equal(same[k], reference[k]) for k in same)
    for block in (0, 1, 2) if name == "cnn" else ():  # and bias_block
        same, model = weights(True, True, bias_block=block)
        assert same.keys() == reference.keys()
        assert all(torch.equal(same[k], reference[k]) for k in same), block
        assert count_params(model) == count_params(weights(False, True, bias_block=block)[1])
        assert conv_biases(model) == 8
    # torch's own draw order interleaves bias draws: without pairing the weights differ
    unpaired = weights(False, False)[0]
    assert not all(torch.equal(unpaired[k], reference[k]) for k in unpaired)
    assert sum(p.numel() for p in with_biases.parameters()) > sum(
        p.numel() for p in weights(True, False)[1].parameters()
    )


def test_building_a_cnn_leaves_batch_norm_statistics_untouched():
    # the constructor's shape probe must not count as a training batch
    model = CNN((1, 40), 10, width=8, norm="batch", bias=True)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
        assert int(bn.num_batches_tracked) == 0
        assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert model.training


@pytest.mark.parametrize("model", ["cnn", "vgg"])
def test_a_published_cnn_record_matches_with_the_new_keys_at_their_defaults(make_cfg, model):
    record = json.loads(PUBLISHED_CNN.read_text())
    config = record["config"]
    assert fingerprint.of(config)["digest"] == record["fingerprint"]
    today = make_cfg(f"model={model}").model
    config["model"] |= {k: today[k] for k in ("padding_mode", "bias_block")}
    assert fingerprint.of(config)["digest"] == record["fingerprint"]
    for key, value in (("padding_mode", "reflect"), ("bias_block", 0)):
        changed = json.loads(json.dumps(config))
        changed["model"][key] = value
        assert fingerprint.of(changed)["digest"] != record["fingerprint"], key
