"""The built bias of each conv layer (biaslab.callbacks.built_bias): on hand-built nets whose
shares are known, against a direct computation through the norms, per member of a packed
model, and in each seed's results.json."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from biaslab.callbacks.built_bias import BuiltBias, conv_layers, measure
from biaslab.data.base import TensorDataModule
from biaslab.models.cnn import CNN
from biaslab.models.mlp import MLP
from biaslab.models.packed import PackedModel
from biaslab.models.resnet import ResNet
from biaslab.records.results import read_results
from biaslab.run.job import configured_callbacks
from biaslab.run.train import train
from biaslab.tasks.base import Classifier

from .conftest import CONF


def _cnn(seed: int = 0, **kw) -> CNN:
    torch.manual_seed(seed)
    options = dict(width=3, depth=2, kernel_size=3, stride=1, padding=0) | kw
    return CNN((1, 8), 4, **options).double()


def _shares(z: torch.Tensor) -> float:
    """The mean over channels of mean(z_k)² / mean(z_k²), from the whole tensor at once."""
    dims = [0, *range(2, z.dim())]
    return float((z.mean(dims).square() / z.square().mean(dims)).mean())


def test_a_constant_input_makes_every_share_one():
    # every output position of an unpadded conv sees the same window of a constant input:
    # each channel of every layer is one constant, built from the input (weights > 0 keep
    # every channel alive through the ReLUs)
    model = _cnn(bias=True)
    for conv, _ in conv_layers(model):
        n = conv.weight.numel()
        conv.weight.data = 0.1 + 0.05 * torch.arange(n, dtype=torch.float64).view_as(conv.weight)
        conv.bias.data.fill_(-0.3)
    x = torch.full((6, 1, 8), 0.7, dtype=torch.float64)
    shares = measure(model, [x[:4], x[4:]])
    assert set(shares) == {f"{m}/conv{i}" for m in ("built_bias", "const_share") for i in (0, 1)}
    for name, value in shares.items():
        assert value.shape == (1,)
        assert float(value) == pytest.approx(1.0, abs=1e-12), name


def test_a_symmetric_input_builds_nothing_and_the_bias_is_only_in_the_pre_activation():
    # x and -x: a linear map builds z and -z, whose mean is 0; the bias b is no part of what
    # the conv builds, but all of the pre-activation's constant: b² / (b² + E[z²])
    model = _cnn(bias=True)
    conv = model.features[0]
    conv.bias.data = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    torch.manual_seed(1)
    half = torch.randn(10, 1, 8, dtype=torch.float64)
    shares = measure(model, [torch.cat([half, -half])])
    assert float(shares["built_bias/conv0"]) == pytest.approx(0.0, abs=1e-20)
    z = F.conv1d(torch.cat([half, -half]), conv.weight)
    b2, z2 = conv.bias.detach().square(), z.detach().square().mean((0, 2))
    assert float(shares["const_share/conv0"]) == pytest.approx(float((b2 / (b2 + z2)).mean()))


def _direct(model: CNN, x: torch.Tensor) -> dict[str, float]:
    """Both shares of every conv from the whole activations, block by block."""
    out, i, layers = {}, 0, list(model.features)
    for j, layer in enumerate(layers):
        if isinstance(layer, nn.Conv1d):
            z = F.conv1d(x, layer.weight, None, layer.stride, layer.padding)
            out[f"built_bias/conv{i}"] = _shares(z)
            out[f"const_share/conv{i}"] = _shares(layers[j + 1](layer(x)))  # the norm's output
            i += 1
        x = layer(x)
    return out


@pytest.mark.parametrize(
    "options",
    [
        {"norm": "none", "bias": True},
        {"norm": "batch", "bias": True},
        {"norm": "batch", "bias": False, "norm_shift": False},
        {"norm": "group", "norm_groups": 1, "bias": True},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_shares_equal_a_direct_computation_through_the_norms(options):
    model = _cnn(width=4, depth=3, padding=1, **options)
    with torch.no_grad():  # running statistics of a net that has seen data
        model.train()(torch.randn(64, 1, 8, dtype=torch.float64) + 1.5)
        model.eval()
        x = torch.randn(30, 1, 8, dtype=torch.float64) + 0.8
        want = _direct(model, x)
    got = measure(model, [x[:7], x[7:20], x[20:]])  # streamed over batches of any size
    assert set(got) == set(want)
    for name, value in want.items():
        assert float(got[name]) == pytest.approx(value, rel=1e-9), name
    assert 0.05 < want["built_bias/conv1"] < 0.95  # a net between the two extremes


def test_a_packed_member_measures_as_its_own_model():
    members = [_cnn(s, width=4, depth=3, padding=1, norm="batch", bias=False) for s in (3, 4)]
    for m in members:
        with torch.no_grad():
            m.train()(torch.randn(32, 1, 8, dtype=torch.float64) + 1.0)
    packed = PackedModel(members)
    x = torch.randn(25, 2, 1, 8, dtype=torch.float64) + torch.tensor([0.5, -2.0]).view(1, 2, 1, 1)
    got = measure(packed, [x[:10], x[10:]])
    for k, m in enumerate(members):
        alone = measure(m, [x[:, k]])
        assert set(alone) == set(got)
        for name, value in alone.items():
            assert float(got[name][k]) == pytest.approx(float(value), rel=1e-10), name
    assert float(got["built_bias/conv0"][0]) != pytest.approx(float(got["built_bias/conv0"][1]))


def test_every_resnet_conv_is_read_after_its_own_norm():
    model = ResNet((3, 8, 8), 10, depth=8, width=4, norm="batch")
    layers = conv_layers(model)
    assert len(layers) == sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 9
    assert all(isinstance(after, nn.BatchNorm2d) for _, after in layers)
    shares = measure(model, [torch.randn(4, 3, 8, 8)])
    assert len(shares) == 18 and all(0 <= float(v) <= 1 for v in shares.values())


def test_the_model_is_left_in_the_mode_it_was_in_without_hooks():
    model = _cnn().train()
    measure(model, [torch.randn(3, 1, 8, dtype=torch.float64)])
    assert model.training
    assert not any(m._forward_hooks for m in model.modules())


EXACT = ["trainer.precision=64-true", "trainer.max_steps=20", "trainer.val_check_interval=10"]


def test_each_seed_record_holds_the_shares_of_its_own_model(make_cfg, tmp_path):
    # a packed job's seed and the lone run of that seed: one model, the same shares
    seeds, on = [3, 4], ["callbacks=built_bias", "model.bias=false"]
    train(make_cfg(*EXACT, *on, "seed=3", "train.parallel_seeds=2", output_dir=tmp_path / "job"))
    names = {f"{m}/conv{i}" for m in ("built_bias", "const_share") for i in range(3)}
    for seed in seeds:
        mine = read_results(tmp_path / "job" / f"seed={seed}")["metrics"]
        train(make_cfg(*EXACT, *on, f"seed={seed}", output_dir=tmp_path / f"single{seed}"))
        theirs = read_results(tmp_path / f"single{seed}")["metrics"]
        assert names <= set(mine) and names <= set(theirs)
        for name in names:
            assert mine[name] == pytest.approx(theirs[name], rel=1e-8), name
            assert 0 <= mine[name] <= 1
    assert not any(k.startswith("seed=") for k in mine)


def test_the_config_option_and_the_preset_form_both_build_the_callback(make_cfg):
    node = OmegaConf.load(CONF / "callbacks" / "built_bias.yaml")
    assert isinstance(instantiate(node), BuiltBias)
    alone = configured_callbacks(make_cfg("callbacks=built_bias"))
    beside = configured_callbacks(
        make_cfg("callbacks=lr_monitor", "+callbacks@callbacks.built_bias=built_bias")
    )
    assert [type(c).__name__ for c in alone] == ["BuiltBias"]
    assert [type(c).__name__ for c in beside] == ["LearningRateMonitor", "BuiltBias"]


class _Vectors(TensorDataModule):
    num_classes = 2

    def load(self):
        x = torch.randn(20, 1, 8)
        return x, torch.zeros(20, dtype=torch.long), x, torch.zeros(20, dtype=torch.long)


def test_a_model_without_convs_is_refused(tmp_path):
    model = MLP((1, 8), 2, width=4, depth=1)
    trainer = L.Trainer(
        accelerator="cpu", logger=False, callbacks=[BuiltBias()], default_root_dir=tmp_path
    )
    task = Classifier(model, 2, lambda p: torch.optim.SGD(p, lr=0.1))
    with pytest.raises(TypeError, match="BuiltBias needs a model with conv layers .* got MLP"):
        trainer.test(task, datamodule=_Vectors(), verbose=False)
