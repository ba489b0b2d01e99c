"""The final model on the whole training split (biaslab.callbacks.train_eval): equal to a
direct computation on the training tensors, lone and packed, without augmentation, for a
regression, and in each seed's results.json."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from biaslab.callbacks.built_bias import measure
from biaslab.callbacks.train_eval import TrainEval
from biaslab.data import local_copy, vision
from biaslab.data.base import TensorDataModule
from biaslab.data.sequence import Adding, Copy
from biaslab.models.build import build_model
from biaslab.models.cnn import CNN
from biaslab.models.lstm import LSTM
from biaslab.models.packed import PackedModel
from biaslab.records.results import read_results
from biaslab.run.train import train
from biaslab.seed_parallel.data import SeedParallelData
from biaslab.tasks.base import Classifier
from biaslab.tasks.packed import SeedParallelClassifier
from biaslab.tasks.sequence import Regressor, SequenceClassifier

from .conftest import CONF
from .image_files import write_idx_folder

ADAM = functools.partial(torch.optim.Adam, lr=1e-2)


class _Vectors(TensorDataModule):
    """3 classes of 1×12 vectors; 83 training examples (val_fraction 0.1 of 92), batches of
    16: the last training batch is short."""

    num_classes = 3

    def load(self):
        g = torch.Generator().manual_seed(self.seed)
        y = torch.randint(0, 3, (112,), generator=g)
        x = torch.randn(112, 1, 12, generator=g) + y.view(-1, 1, 1).float()
        return x[:92], y[:92], x[92:], y[92:]


def _cnn(seed: int) -> CNN:
    torch.manual_seed(seed)
    return CNN((1, 12), 3, width=4, depth=2, kernel_size=3, stride=2, padding=1)


def _run(tmp_path, task, dm, steps: int = 20) -> dict[str, float]:
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        callbacks=[TrainEval()],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=dm)
    trainer.test(task, datamodule=dm, verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


@torch.no_grad()
def _direct(model, x, y) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on all of ``x`` at once."""
    logits = model.eval()(x)
    return float((logits.argmax(1) == y).double().mean()), float(F.cross_entropy(logits, y))


def test_a_lone_model_is_scored_on_every_training_example(tmp_path):
    dm = _Vectors(batch_size=16)
    task = Classifier(_cnn(0), 3, ADAM)
    m = _run(tmp_path, task, dm)
    x, y = dm.splits["train"]
    assert len(y) == 83
    acc, loss = _direct(task.model, x, y)
    assert m["train_full/acc"] == acc  # counted: correct / 83, exactly
    assert m["train_full/loss"] == pytest.approx(loss, rel=1e-6)
    assert 0 < acc < 1


def test_each_packed_member_is_scored_on_its_own_training_split(tmp_path):
    # different data seeds: each member has its own training examples
    seeds = [3, 4]
    dms = [_Vectors(batch_size=16, seed=s, shuffle_seed=s) for s in seeds]
    data = SeedParallelData(dms)
    task = SeedParallelClassifier(PackedModel([_cnn(s) for s in seeds]), seeds, 3, ADAM)
    m = _run(tmp_path, task, data)
    for k, (s, dm) in enumerate(zip(seeds, dms, strict=True)):
        member = _cnn(0)
        member.load_state_dict(task.model.member_state_dict(k))
        acc, loss = _direct(member, *dm.splits["train"])
        assert m[f"seed={s}/train_full/acc"] == acc
        assert m[f"seed={s}/train_full/loss"] == pytest.approx(loss, rel=1e-5)
    assert "train_full/acc" not in m


def test_augmented_images_are_scored_as_they_are(tmp_path, monkeypatch):
    written = write_idx_folder(tmp_path / "copy", n_train=70, n_test=20)
    monkeypatch.setitem(local_copy.FILES, "fashion_mnist", written["files"])
    dm = vision.FashionMNIST(
        data_dir=str(tmp_path / "cache"),
        source_dir=str(tmp_path / "copy"),
        batch_size=16,
        augment=True,
    )
    torch.manual_seed(0)
    model = CNN((1, 28, 28), 10, width=4, depth=2, kernel_size=3, stride=2, padding=1)
    task = Classifier(model, 10, ADAM)
    m = _run(tmp_path, task, dm)
    x, y = dm.splits["train"]
    acc, loss = _direct(model, dm.inputs(x), y)  # no step given: not augmented
    assert m["train_full/acc"] == acc
    assert m["train_full/loss"] == pytest.approx(loss, rel=1e-6)


def test_a_regression_is_scored_by_its_squared_error(tmp_path):
    dm = Adding(length=6, num_train=45, num_val=5, num_test=5, batch_size=8)
    torch.manual_seed(0)
    task = Regressor(LSTM((6, 2), 1, hidden_size=4), 1, ADAM)
    m = _run(tmp_path, task, dm, steps=10)
    x, y = dm.splits["train"]
    with torch.no_grad():
        want = float(F.mse_loss(task.model.eval()(x).reshape(-1), y))
    assert m["train_full/mse"] == pytest.approx(want, rel=1e-6)
    assert m["train_full/loss"] == m["train_full/mse"]
    assert "train_full/acc" not in m


def test_the_sequence_classification_is_refused(tmp_path):
    dm = Copy(length=4, num_train=20, num_val=5, num_test=5, batch_size=5)
    task = SequenceClassifier(LSTM((24, 10), 10, hidden_size=4, output="sequence"), 10, ADAM)
    trainer = L.Trainer(accelerator="cpu", logger=False, callbacks=[TrainEval()])
    with pytest.raises(TypeError, match="TrainEval needs a classification or regression task"):
        trainer.test(task, datamodule=dm, verbose=False)


EXACT = ["trainer.precision=64-true", "trainer.max_steps=20", "trainer.val_check_interval=10"]


def test_each_seed_record_holds_its_own_training_set_scores(make_cfg, tmp_path):
    # a packed job's seed and the lone run of that seed: one model, the same scores
    on = ["callbacks=train_eval"]
    train(make_cfg(*EXACT, *on, "seed=3", "train.parallel_seeds=2", output_dir=tmp_path / "job"))
    for seed in (3, 4):
        mine = read_results(tmp_path / "job" / f"seed={seed}")["metrics"]
        train(make_cfg(*EXACT, *on, f"seed={seed}", output_dir=tmp_path / f"single{seed}"))
        theirs = read_results(tmp_path / f"single{seed}")["metrics"]
        assert mine["train_full/acc"] == theirs["train_full/acc"]
        assert mine["train_full/loss"] == pytest.approx(theirs["train_full/loss"], rel=1e-8)
        assert 0 < mine["train_full/acc"] < 1 and mine["train_full/loss"] > 0


def test_the_config_option_builds_the_callback():
    node = OmegaConf.load(CONF / "callbacks" / "train_eval.yaml")
    assert isinstance(instantiate(node), TrainEval)


@pytest.mark.slow
def test_ddp_ranks_together_measure_every_example_once(make_cfg, tmp_path):
    # two ranks, each over its shard: the record holds what one process computes on the
    # whole splits with the job's final weights
    cfg = make_cfg(
        "trainer=ddp_cpu",
        "trainer.max_steps=20",
        "trainer.val_check_interval=10",
        "data.batch_size=67",  # shards of 67 and a short last one
        "callbacks=[built_bias,train_eval]",
    )
    assert train(cfg)["status"] == "completed"
    rec = read_results(tmp_path)
    assert rec["world_size"] == 2
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    data = instantiate(cfg.data)
    model = build_model(cfg.model, data.spec.input_shape, data.spec.num_classes)
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    x, y = data.splits["train"]
    acc, loss = _direct(model, x, y)
    assert rec["metrics"]["train_full/acc"] == acc
    assert rec["metrics"]["train_full/loss"] == pytest.approx(loss, rel=1e-5)
    shares = measure(model, [data.splits["test"][0]])
    for name, value in shares.items():
        assert rec["metrics"][name] == pytest.approx(float(value), rel=1e-5), name
