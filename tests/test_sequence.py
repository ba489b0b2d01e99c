"""The adding and copy problems: layout, targets, baselines, determinism; tiny training runs."""

import math

import pytest
import torch

from biaslab.data.sequence import BLANK, DELIMITER, Adding, Copy
from biaslab.records.results import read_results
from biaslab.run.train import print_summary, train


def test_adding_layout_and_target():
    d = Adding(length=30, num_train=500, num_val=50, num_test=50)
    x, y = d.prepare_splits()["train"]
    assert x.shape == (500, 30, 2) and y.shape == (500,) and y.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()
    assert torch.allclose((values * markers).sum(1), y)
    spec = d.spec
    assert spec.input_shape == (30, 2) and spec.num_classes == 1
    assert spec.task == "regression" and spec.baseline == pytest.approx(1 / 6)


def test_adding_trivial_predictor_has_mse_one_sixth():
    _, y = Adding(length=10, num_train=100_000, num_val=1, num_test=1).split("train")
    assert ((y - 1) ** 2).mean().item() == pytest.approx(1 / 6, abs=0.003)


def test_copy_layout_and_baseline():
    t = 100
    d = Copy(length=t, num_train=200, num_val=20, num_test=20)
    x, y = d.prepare_splits()["train"]
    assert x.shape == (200, t + 20, 10) and y.shape == (200, t + 20)
    assert (x.sum(-1) == 1).all()  # one-hot
    codes = x.argmax(-1)
    symbols = codes[:, :10]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (codes[:, 10 : t + 9] == BLANK).all()  # T-1 blanks
    assert (codes[:, t + 9] == DELIMITER).all()
    assert (codes[:, t + 10 :] == BLANK).all()  # 10 blanks while recalling
    assert (y[:, : t + 10] == BLANK).all()
    assert torch.equal(y[:, t + 10 :], symbols)
    spec = d.spec
    assert spec.task == "sequence" and spec.num_classes == 9 and spec.input_shape == (t + 20, 10)
    assert spec.baseline == pytest.approx(10 * math.log(8) / (t + 20))
    assert spec.baseline == pytest.approx(0.1733, abs=1e-4)
    assert Copy(length=200, num_train=1, num_val=1, num_test=1).baseline == pytest.approx(
        0.0945, abs=1e-4
    )


def test_copy_memoryless_predictor_reaches_the_baseline():
    t = 30
    x, y = Copy(length=t).split("test")
    logits = torch.full((*y.shape, 9), -1e4)
    logits[:, : t + 10, BLANK] = 0.0  # certain blank until the recall
    logits[:, t + 10 :, 1:] = 0.0  # then uniform over the 8 symbols
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    assert ce.item() == pytest.approx(10 * math.log(8) / (t + 20), rel=1e-5)


@pytest.mark.parametrize("cls", [Adding, Copy])
def test_determinism_by_seed_and_disjoint_splits(cls):
    kw = {"length": 12, "num_train": 64, "num_val": 64, "num_test": 64}
    a = cls(seed=5, **kw).prepare_splits()
    b = cls(seed=5, **kw).prepare_splits()
    c = cls(seed=6, **kw).prepare_splits()
    for split in ("train", "val", "test"):
        assert torch.equal(a[split][0], b[split][0]) and torch.equal(a[split][1], b[split][1])
        assert not torch.equal(a[split][0], c[split][0])
    # the three splits come from different streams: no example repeats across them
    rows = {s: {tuple(r.flatten().tolist()) for r in a[s][0]} for s in a}
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"]
    assert not rows["val"] & rows["test"]
    # seed*3 + k: neighbouring seeds do not reuse each other's streams
    assert not torch.equal(cls(seed=0, **kw).split("val")[0], cls(seed=1, **kw).split("train")[0])


def test_tiny_adding_run_writes_results(make_cfg, tmp_path, capsys):
    cfg = make_cfg(
        "model=lstm",
        "data=adding",
        "data.length=10",
        "data.num_train=400",
        "data.num_val=100",
        "data.num_test=100",
        "model.hidden_size=8",
        "model.forget_bias=1",
        "+trainer.gradient_clip_val=1.0",
    )
    assert cfg.optimized_metric is None  # a sweeper then gets the task's own metric
    out = train(cfg)
    m = read_results(tmp_path)["metrics"]
    assert m["test/mse_over_baseline"] == pytest.approx(m["test/mse"] * 6)
    assert m["test/loss"] == pytest.approx(m["test/mse"], rel=1e-5)
    assert 0 < m["val/mse_over_baseline"] < 10
    assert m["val/mse_best"] <= m["val/mse"] and m["val/mse_best_step"] in (20, 40)
    assert out["optimized"] == pytest.approx(m["val/mse"])
    assert out["params"]["params/bias"] == 8 * 8 + 1
    print_summary(out)
    shown = capsys.readouterr().out
    assert "test/mse_over_baseline" in shown and "val/mse (best)" in shown


def test_tiny_copy_run_logs_recall_accuracy(make_cfg, tmp_path):
    cfg = make_cfg(
        "model=lstm",
        "data=copy",
        "data.length=5",
        "data.num_train=200",
        "data.num_val=50",
        "data.num_test=50",
        "model.hidden_size=8",
        "trainer.max_steps=20",
        "trainer.val_check_interval=10",
    )
    m = train(cfg)["metrics"]
    assert 0 <= m["test/acc"] <= 1 and 0 <= m["val/acc_best"] <= 1
    assert m["test/loss_over_baseline"] == pytest.approx(
        m["test/loss"] / (10 * math.log(8) / 25), rel=1e-5
    )


def test_copy_with_last_step_output_is_refused(make_cfg):
    cfg = make_cfg(
        "model=lstm",
        "data=copy",
        "data.length=5",
        "data.num_train=50",
        "data.num_val=10",
        "data.num_test=10",
        "model.output=last",
    )
    with pytest.raises(ValueError, match="per-step"):
        train(cfg)


def test_forget_bias_preset_grid(make_cfg):
    cfg = make_cfg("+experiment=forget_bias")
    assert cfg.model._target_.endswith("LSTM") and cfg.data._target_.endswith("Adding")
    assert cfg.optimizer.lr == 0.001 and cfg.data.batch_size == 50
    assert cfg.trainer.gradient_clip_val == 1.0
    assert cfg.optimized_metric == "val/mse" and cfg.task_name == "forget_bias"


def test_steps_to_threshold_is_recorded(make_cfg, tmp_path, monkeypatch):
    """val/steps_to_0.1: the first validation step with val MSE / baseline below 0.1, in
    results.json; null when never reached."""
    from biaslab.tasks.sequence import Regressor

    args = (
        "model=lstm",
        "data=adding",
        "data.length=10",
        "data.num_train=400",
        "data.num_val=100",
        "data.num_test=100",
        "model.hidden_size=8",
    )
    assert Regressor.steps_metric == "val/steps_to_0.1"
    # 40 steps of a tiny LSTM never get below 0.1 of the baseline: null, recorded
    train(make_cfg(*args, output_dir=tmp_path / "never"))
    m = read_results(tmp_path / "never")["metrics"]
    assert "val/steps_to_0.1" in m and m["val/steps_to_0.1"] is None
    assert m["val/mse_over_baseline"] > 0.1
    # a threshold every run meets: reached at the first validation (step 20), and kept
    monkeypatch.setattr(Regressor, "threshold", 100.0)
    out = train(make_cfg(*args, output_dir=tmp_path / "met"))
    m = read_results(tmp_path / "met")["metrics"]
    assert m["val/steps_to_0.1"] == 20
    assert out["metrics"]["val/steps_to_0.1"] == 20
