"""The test accuracy under a brightness offset and a contrast scale
(biaslab.callbacks.shift_eval)."""

import functools

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger
from omegaconf import OmegaConf

from biaslab.callbacks.shift_eval import ShiftEval
from biaslab.data import local_copy, vision
from biaslab.data.base import TensorDataModule
from biaslab.models.cnn import CNN
from biaslab.models.packed import PackedModel
from biaslab.seed_parallel.data import SeedParallelData
from biaslab.tasks.base import Classifier
from biaslab.tasks.packed import SeedParallelClassifier

from .conftest import CONF
from .image_files import write_idx_folder

SHIFTS = {
    "same": {"offset": 0, "scale": 1},
    "black": {"offset": 0.0, "scale": 0.0},
    "brighter": {"offset": 0.2},
    "contrast_0.5": {"scale": 0.5},
}
ADAM = functools.partial(torch.optim.Adam, lr=1e-3)


@pytest.fixture
def images(tmp_path, monkeypatch):
    """A tiny Fashion-MNIST-format copy: 60 train, 200 test images of random pixels."""
    written = write_idx_folder(tmp_path / "copy", n_test=200)
    monkeypatch.setitem(local_copy.FILES, "fashion_mnist", written["files"])
    return functools.partial(
        vision.FashionMNIST,
        data_dir=str(tmp_path / "cache"),
        source_dir=str(tmp_path / "copy"),
        batch_size=32,
    )


def _cnn(seed: int = 0) -> CNN:
    torch.manual_seed(seed)
    return CNN((1, 28, 28), 10, width=4, depth=2, kernel_size=3, stride=2, padding=1)


def _trainer(tmp_path, callback, logger=False, **kw) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        **kw,
        logger=logger,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )


def _acc(model, dm, offset, scale) -> float:
    x, y = dm.splits["test"]
    with torch.no_grad():
        pixels = x.double() / 255 * scale + offset
        inputs = ((pixels - dm.mean[0]) / dm.std[0]).float()
        return float((model.eval()(inputs).argmax(1) == y).double().mean())


def test_shifted_test_accuracy_is_logged_per_shift(tmp_path, images):
    dm = images()
    task = Classifier(_cnn(), 10, ADAM)
    logger = CSVLogger(tmp_path, name="csv")
    trainer = _trainer(tmp_path, ShiftEval(SHIFTS), logger)
    trainer.test(task, datamodule=dm, verbose=False)
    m = {k: float(v) for k, v in trainer.callback_metrics.items()}
    # no shift: exactly the test accuracy
    assert m["test_shift/same/acc"] == m["test/acc"]
    # every pixel black: one input, one class predicted, its share of the test labels
    y = dm.splits["test"][1]
    black = dm.inputs(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))
    predicted = int(task.model(black).argmax(1))
    assert m["test_shift/black/acc"] == pytest.approx(float((y == predicted).double().mean()))
    for name, offset, scale in (("brighter", 0.2, 1.0), ("contrast_0.5", 0.0, 0.5)):
        assert m[f"test_shift/{name}/acc"] == pytest.approx(_acc(task.model, dm, offset, scale))
    assert m["test_shift/brighter/acc"] != m["test/acc"]  # the shift reached the model
    # in the logger's record too
    logged = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0]
    assert all(f"test_shift/{name}/acc" in logged.split(",") for name in SHIFTS)


def test_a_net_without_additive_constants_ignores_contrast_on_raw_pixels(tmp_path, images):
    # bias-free (no bias anywhere, batch norm without mean or shift) on unstandardized pixels:
    # a contrast scale multiplies its input, hence its logits, and changes no prediction
    dm = images(normalize=False)
    torch.manual_seed(0)
    model = CNN(
        (1, 28, 28),
        10,
        width=4,
        depth=2,
        kernel_size=3,
        stride=2,
        padding=1,
        bias=False,
        head_bias=False,
        norm="batch",
        norm_shift=False,
    )
    task = Classifier(model, 10, ADAM)
    shifts = {"contrast_0.5": {"scale": 0.5}, "contrast_0.25": {"scale": 0.25}, **SHIFTS}
    # trained a little, so that the running variances are the net's own
    trainer = _trainer(tmp_path, ShiftEval(shifts), max_steps=10, num_sanity_val_steps=0)
    trainer.fit(task, datamodule=dm)
    trainer.test(task, datamodule=dm, verbose=False)
    m = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert m["test_shift/contrast_0.5/acc"] == m["test/acc"]
    assert m["test_shift/contrast_0.25/acc"] == m["test/acc"]
    assert m["test_shift/brighter/acc"] != m["test/acc"]  # an offset is not a scale


def test_seed_parallel_members_each_get_their_own_shift_metrics(tmp_path, images):
    seeds = [3, 4]
    data = SeedParallelData([images(shuffle_seed=s) for s in seeds])
    members = [_cnn(s) for s in seeds]
    task = SeedParallelClassifier(PackedModel(members), seeds, 10, ADAM)
    trainer = _trainer(tmp_path, ShiftEval(SHIFTS))
    trainer.test(task, datamodule=data, verbose=False)
    m = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for s, member in zip(seeds, members, strict=True):
        assert m[f"seed={s}/test_shift/same/acc"] == m[f"seed={s}/test/acc"]
        assert m[f"seed={s}/test_shift/brighter/acc"] == pytest.approx(
            _acc(member, data.members[0], 0.2, 1.0)
        )


def test_the_hydra_config_instantiates_the_callback():
    node = OmegaConf.load(CONF / "callbacks" / "shift_eval.yaml")
    callback = instantiate(node)
    assert isinstance(callback, ShiftEval)
    assert callback.shifts == {
        "brighter": (0.2, 1.0),
        "darker": (-0.2, 1.0),
        "contrast_0.5": (0.0, 0.5),
        "contrast_0.25": (0.0, 0.25),
    }


@pytest.mark.parametrize(
    "shifts, match",
    [
        ({"x": {"offset": "a"}}, r"shifts.x=\{'offset': 'a'\} is not allowed: expected finite"),
        ({"x": {"shift": 1}}, r"shifts.x=\{'shift': 1\} is not allowed: expected \{offset"),
        ({"a/b": {"scale": 1}}, "a shift's name must be"),
        ({}, "shifts is empty"),
    ],
)
def test_bad_shifts_are_refused_with_one_line(shifts, match):
    with pytest.raises(ValueError, match=match):
        ShiftEval(shifts)


class _Vectors(TensorDataModule):
    num_classes = 2

    def load(self):
        x = torch.randn(20, 1, 8)
        return x, torch.zeros(20, dtype=torch.long), x, torch.zeros(20, dtype=torch.long)


def test_data_without_pixels_is_refused(tmp_path):
    model = CNN((1, 8), 2, width=2, depth=1, kernel_size=3)
    trainer = _trainer(tmp_path, ShiftEval({"x": {"offset": 0.1}}))
    with pytest.raises(TypeError, match="ShiftEval needs an image dataset .* got _Vectors"):
        trainer.test(Classifier(model, 2, ADAM), datamodule=_Vectors(), verbose=False)
