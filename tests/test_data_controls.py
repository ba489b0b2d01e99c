"""Controls on the data that explain where a bias comes from: MNIST-1D's constant channel,
an image dataset's fixed training subset, Fashion-MNIST's noise background."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import pytest
import torch
from hydra.utils import get_object
from omegaconf import OmegaConf

from biaslab.config import ConfigError, validate
from biaslab.data import local_copy, vision
from biaslab.data.augment import crop_flip
from biaslab.data.download import DataUnavailable
from biaslab.data.mnist1d import MNIST1D
from biaslab.records.results import read_results
from biaslab.resume import fingerprint
from biaslab.run.train import train
from biaslab.seed_parallel.data import SeedParallelData

from .image_files import write_idx_folder

# float64 on the CPU: a packed member and the single run of its seed agree to rounding
EXACT = ["trainer.precision=64-true", "trainer.max_steps=10", "trainer.val_check_interval=5"]


def _first_conv(run_dir: Path) -> torch.Tensor:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return state["model.features.0.weight"]


# -- MNIST-1D: a constant channel ----------------------------------------------------------


def test_the_constant_channel_is_exactly_ones_beside_the_unchanged_signal(data_dir):
    kw = {"data_dir": str(data_dir), "shift": 0.5, "scale": 2.0}
    plain, ones = MNIST1D(**kw).prepare_splits(), MNIST1D(const_channel=True, **kw)
    assert ones.spec.input_shape == (2, 40)
    for name, (x, y) in ones.prepare_splits().items():
        assert x.shape == (len(plain[name][0]), 2, 40) and x.dtype == torch.float32
        assert torch.equal(x[:, 1], torch.ones_like(x[:, 1]))  # after scale and shift: 1.0
        assert torch.equal(x[:, :1], plain[name][0]) and torch.equal(y, plain[name][1])
    default = MNIST1D(data_dir=str(data_dir)).prepare_splits()
    off = MNIST1D(data_dir=str(data_dir), const_channel=False).prepare_splits()
    for name in default:
        assert default[name][0].shape[1:] == (1, 40)
        assert torch.equal(default[name][0], off[name][0])


def test_a_cnn_trains_on_the_constant_channel_packed_and_alone(make_cfg, tmp_path):
    job, alone = tmp_path / "job", tmp_path / "alone"
    ones = [*EXACT, "data.const_channel=true", "model.width=8"]
    out = train(make_cfg(*ones, "train.parallel_seeds=2", output_dir=job))
    assert out["status"] == "completed"
    train(make_cfg(*ones, "seed=1", output_dir=alone))
    assert _first_conv(job).shape == (2, 8, 2, 5)  # (members, out, in, kernel)
    assert _first_conv(alone).shape == (8, 2, 5)
    torch.testing.assert_close(_first_conv(job)[1], _first_conv(alone), rtol=1e-8, atol=1e-12)
    mine, theirs = read_results(job / "seed=1")["metrics"], read_results(alone)["metrics"]
    assert set(mine) == set(theirs) and "test/acc" in mine
    for key, want in theirs.items():
        assert mine[key] == pytest.approx(want, rel=1e-8, abs=1e-12), key


# -- image datasets: a fixed training subset -----------------------------------------------


@pytest.fixture
def fashion(tmp_path, monkeypatch):
    """A Fashion-MNIST-format copy of 200 train and 50 test images, half their pixels black."""
    written = write_idx_folder(tmp_path / "copy", n_train=200, n_test=50, background=0.5)
    monkeypatch.setitem(local_copy.FILES, "fashion_mnist", written["files"])
    make = functools.partial(
        vision.FashionMNIST,
        data_dir=str(tmp_path / "cache"),
        source_dir=str(tmp_path / "copy"),
        batch_size=16,
    )
    make.written = written  # the arrays in the files
    return make


def rows(x: torch.Tensor) -> list[tuple]:
    return [tuple(img.flatten().tolist()) for img in x]


def test_a_training_subset_is_n_images_of_the_split_the_same_for_every_run_seed(fashion):
    full = fashion().prepare_splits()
    assert len(full["train"][0]) == 180
    sub = fashion(train_samples=20).prepare_splits()
    assert len(sub["train"][0]) == len(sub["train"][1]) == 20
    assert set(rows(sub["train"][0])) <= set(rows(full["train"][0]))
    for split in ("val", "test"):  # unchanged
        assert torch.equal(sub[split][0], full[split][0])
        assert torch.equal(sub[split][1], full[split][1])
    # a run's seed is its shuffle_seed: the subset does not depend on it, so packed members
    # share one copy
    members = [fashion(train_samples=20, shuffle_seed=s) for s in (0, 1, 2)]
    assert all(torch.equal(m.prepare_splits()["train"][0], sub["train"][0]) for m in members)
    assert SeedParallelData(members).splits["train"][2]  # x shared by the members
    # data.seed draws it; a smaller subset is part of a larger one
    other = fashion(train_samples=20, seed=7).prepare_splits()["train"][0]
    assert set(rows(other)) != set(rows(sub["train"][0]))
    smaller = fashion(train_samples=10).prepare_splits()["train"][0]
    assert set(rows(smaller)) < set(rows(sub["train"][0]))
    whole = fashion(train_samples=180).prepare_splits()["train"][0]
    assert set(rows(whole)) == set(rows(full["train"][0]))


def test_a_subset_larger_than_the_split_is_refused_in_one_line(fashion, make_cfg):
    with pytest.raises(DataUnavailable) as e:
        fashion(train_samples=181).prepare_splits()
    assert str(e.value) == (
        "data.train_samples=181 is not allowed: expected null or an integer from 1 to 180 "
        "(the training split)"
    )
    # the full datasets' sizes are known before any data is loaded
    validate(make_cfg("data=fashion_mnist", "data.train_samples=54000"))
    with pytest.raises(ConfigError, match="from 1 to 54000 "):
        validate(make_cfg("data=fashion_mnist", "data.train_samples=54001"))
    with pytest.raises(ConfigError, match="from 1 to 45000 "):
        validate(make_cfg("data=cifar10", "model=resnet", "data.train_samples=45001"))
    with pytest.raises(ConfigError, match=r"data.batch_size=128 .* from 1 to 100 \(the training"):
        validate(make_cfg("data=fashion_mnist", "data.train_samples=100"))


# -- Fashion-MNIST: a noise background -----------------------------------------------------


def test_the_noise_background_has_the_stated_sd_and_mean_0_and_keeps_the_foreground(fashion):
    plain = fashion().prepare_splits()
    noisy = fashion(background="noise", background_std=0.5)
    for name, (x, y) in noisy.prepare_splits().items():
        raw, labels = plain[name]
        assert x.dtype == torch.float32 and x.shape == raw.shape
        assert torch.equal(y, labels)
        background = raw == 0
        was, now = fashion().inputs(raw), noisy.inputs(x)
        assert torch.equal(now[~background], was[~background])  # bit for bit
        assert torch.equal(x[~background], raw[~background].float())
        z = now[background].double()
        n = len(z)
        assert n > 4000 and was[background].unique().numel() == 1  # black: one constant
        assert abs(z.mean()) < 4 * 0.5 / n**0.5
        assert z.std() == pytest.approx(0.5, rel=6 / (2 * n) ** 0.5)


def test_the_noise_is_a_property_of_the_dataset_not_of_the_run(fashion):
    first = fashion(background="noise").prepare_splits()
    again = fashion(background="noise", shuffle_seed=3).prepare_splits()  # another run seed
    other = fashion(background="noise", seed=7).prepare_splits()
    assert not torch.equal(first["test"][0], other["test"][0])
    for name in first:
        assert torch.equal(first[name][0], again[name][0])
    members = [fashion(background="noise", shuffle_seed=s) for s in (0, 1)]
    assert SeedParallelData(members).splits["train"][2]  # one copy for packed members
    # the subset holds its images with the noise they have in the whole split
    sub = fashion(background="noise", train_samples=30).prepare_splits()["train"][0]
    assert set(rows(sub)) <= set(rows(first["train"][0]))


def test_augmented_noise_images_are_padded_with_the_noise_mean(fashion):
    x = torch.ones(8, 1, 6, 6)
    padded = crop_flip(x, torch.Generator().manual_seed(0), padding=2, fill=(7.0,))
    assert set(padded.unique().tolist()) == {1.0, 7.0}
    assert torch.equal(crop_flip(x, torch.Generator().manual_seed(0), padding=0, fill=(7.0,)), x)
    noisy = fashion(background="noise")
    fill = torch.full((1, 1, 28, 28), noisy.pad_fill[0])
    assert noisy.inputs(fill).abs().max() < 1e-6  # the pad standardizes to 0
    # crops of uniform images: the image's value or the pad's, 0, never black's -0.81
    flat = noisy.inputs(torch.full((16, 1, 28, 28), 100.0), step=5)
    image = float(noisy.inputs(torch.full((1, 1, 1, 1), 100.0)))
    padded = flat != image
    assert padded.any() and flat[padded].abs().max() < 1e-6
    x = noisy.prepare_splits()["train"][0][:16]
    a = noisy.inputs(x, step=5)
    assert torch.equal(a, fashion(background="noise").inputs(x, step=5))
    assert not torch.equal(a, noisy.inputs(x))
    assert fashion().pad_fill is None  # black, as before


def test_a_noise_background_subset_trains_packed_as_alone(fashion, make_cfg, tmp_path):
    source = fashion.keywords["source_dir"]
    base = [
        *EXACT,  # image inputs are made in the model's precision (once float32 here: a crash)
        "data=fashion_mnist",
        f"data.source_dir={source}",
        f"paths.data_dir={tmp_path / 'cache'}",
        "data.background=noise",
        "data.train_samples=64",
        "data.augment=true",
        "data.batch_size=16",
        "model.width=4",
        "model.kernel_size=3",
    ]
    job, alone = tmp_path / "job", tmp_path / "alone"
    assert train(make_cfg(*base, "train.parallel_seeds=2", output_dir=job))["status"] == "completed"
    train(make_cfg(*base, "seed=1", output_dir=alone))
    mine, theirs = read_results(job / "seed=1")["metrics"], read_results(alone)["metrics"]
    assert set(mine) == set(theirs) and "test/acc" in mine
    for key, want in theirs.items():  # float64: the grouped convs agree to rounding
        assert mine[key] == pytest.approx(want, rel=1e-8, abs=1e-12), key


def test_the_defaults_leave_the_images_as_they_were(fashion):
    """The split as it was drawn before these keys: one permutation from data.seed, uint8."""
    x = torch.as_tensor(fashion.written["x"]).unsqueeze(1)
    order = torch.randperm(200, generator=torch.Generator().manual_seed(42))
    expected = {"train": x[order[20:]], "val": x[order[:20]]}
    expected["test"] = torch.as_tensor(fashion.written["x_test"]).unsqueeze(1)
    default = fashion()
    explicit = fashion(train_samples=None, background="none", background_std=0.3)
    assert default.pad_fill is None and default.background == "none"
    for name, (got, _) in default.prepare_splits().items():
        assert got.dtype == torch.uint8 and torch.equal(got, expected[name])
        assert torch.equal(got, explicit.prepare_splits()[name][0])
        assert torch.equal(default.inputs(got), explicit.inputs(got))


@pytest.mark.parametrize(
    "data, keys",
    [
        ("mnist1d", ["const_channel"]),
        ("fashion_mnist", ["train_samples", "background", "background_std"]),
        ("mnist", ["train_samples"]),
        ("cifar10", ["train_samples"]),
    ],
)
def test_runs_recorded_before_the_keys_still_match_their_config(make_cfg, data, keys):
    cfg = make_cfg(f"data={data}", *(["model=resnet"] if data == "cifar10" else []))
    target = get_object(cfg.data._target_)
    older = OmegaConf.to_container(cfg, resolve=True)
    for key in keys:  # the yaml, the constructor and the fingerprint agree on the default
        default = next(
            inspect.signature(c.__init__).parameters[key].default
            for c in target.__mro__
            if key in inspect.signature(c.__init__).parameters
        )
        assert cfg.data[key] == default == fingerprint.ADDED_AT[f"data.{key}"], key
        del older["data"][key]
    assert fingerprint.of(older)["digest"] == fingerprint.of(cfg)["digest"]
