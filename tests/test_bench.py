"""The benchmark's report: every case and figure is there and the figures agree with each
other. No timing thresholds: this machine's speed and load say nothing about the code."""

import json
import statistics

import pytest

from biaslab.bench.cases import CASES
from biaslab.bench.cli import main
from biaslab.bench.overhead import SEGMENTS


def test_quick_bench_writes_every_case_and_the_job_overhead(tmp_path, data_dir):
    out = tmp_path / "bench.json"
    args = ["--quick", "--out", str(out), "--data-dir", str(data_dir), "--override", "logger=none"]
    returned = main(args)
    report = json.loads(out.read_text())
    assert report == returned

    assert {"device", "versions", "settings", "cases", "overhead", "e2e"} <= set(report)
    assert {"torch", "lightning"} <= set(report["versions"])
    assert report["settings"]["overrides"] == [f"paths.data_dir={data_dir}", "logger=none"]
    rows = {(c["case"], c["bias"]): c for c in report["cases"]}
    assert set(rows) == {(case, bias) for case in CASES for bias in (True, False)}
    for row in rows.values():
        # --quick: 2 warm-up steps and one window of 3, one round; both paths train the same
        # full batches, so their samples/s compare like with like
        steps = row["warmup_steps"] + row["window_steps"]
        assert (row["warmup_steps"], row["window_steps"]) == (2, 3)
        assert row["raw"]["samples"] == row["project"]["samples"] == steps * row["batch_size"]
        for path in ("project", "raw"):
            assert len(row[path]["windows"]) == 1
            assert row[path]["samples_per_s"] == statistics.median(row[path]["windows"])
        project, raw = row["project"]["samples_per_s"], row["raw"]["samples_per_s"]
        assert row["ratio"] == pytest.approx(project / raw)
        assert row["ratio_per_round"] == [pytest.approx(row["ratio"])]
        extra = 1e3 * row["batch_size"] * (1 / project - 1 / raw)
        assert row["extra_ms_per_step"] == pytest.approx(extra)
    assert {rows["mnist1d", b]["batch_size"] for b in (True, False)} == {100}  # conf/'s
    assert {r["batch_size"] for (name, _), r in rows.items() if name != "mnist1d"} == {16}

    overhead = report["overhead"]
    assert overhead["jobs"] == 2 and len(overhead["per_job"]) == 2
    for job in overhead["per_job"]:
        assert job["steps"] == overhead["steps_per_job"] == 2
        # the segments cover the whole of train(), in order (none negative)
        assert min(job[s] for s in SEGMENTS) >= 0
        assert sum(job[s] for s in SEGMENTS) == pytest.approx(job["total_s"])
        assert job["overhead_s"] == pytest.approx(job["total_s"] - job["train_loop_s"])
    assert overhead["first_job"] == overhead["per_job"][0]
    # logger=none: there is no logger to compare against
    assert overhead["no_logger"] is None and overhead["logger_s"] == 0.0
    assert report["e2e"] is None  # only with --e2e


def test_every_round_of_a_case_trains_the_project_path_again(tmp_path, data_dir):
    """A round's project run is a finished run; the next round must not be refused as a run
    into a folder that already holds one (the default --rounds is 3)."""
    from biaslab.bench.cases import make_cases
    from biaslab.bench.throughput import Plan, bench_case
    from biaslab.config.compose import CONF_DIR

    case = make_cases(["mnist1d"], 16, 512, str(data_dir))[0]
    plan = Plan(rounds=2, windows_per_round=1, fixed_steps=(2, 3))
    base = [f"paths.data_dir={data_dir}", "logger=none"]
    row = bench_case(case, CONF_DIR, tmp_path, base, plan)
    assert len(row["ratio_per_round"]) == 2
    assert len(row["project"]["windows"]) == len(row["raw"]["windows"]) == 2


def test_the_bench_times_calls_of_several_steps_on_whole_calls(tmp_path, data_dir):
    """With train.steps_per_call=5 the project path ends 5 steps at a time: the windows are
    put on multiples of 5, and both paths still train the same number of samples."""
    from biaslab.bench.cases import make_cases
    from biaslab.bench.throughput import Plan, bench_case
    from biaslab.config.compose import CONF_DIR

    case = make_cases(["mnist1d"], 16, 512, str(data_dir))[0]
    plan = Plan(rounds=1, windows_per_round=1, fixed_steps=(2, 3))
    base = [f"paths.data_dir={data_dir}", "logger=none", "train.steps_per_call=5"]
    row = bench_case(case, CONF_DIR, tmp_path, base, plan)
    assert (row["warmup_steps"], row["window_steps"]) == (5, 5)
    assert row["raw"]["samples"] == row["project"]["samples"] == 10 * row["batch_size"]
    assert len(row["project"]["windows"]) == 1 and row["project"]["samples_per_s"] > 0


def test_the_default_bench_measures_the_default_path_of_ten_steps_a_call(tmp_path, data_dir):
    """train.steps_per_call=auto: the windows are whole calls of 10 steps, so auto takes 10,
    as the default run does, and the row says so."""
    from biaslab.bench.cases import make_cases
    from biaslab.bench.throughput import Plan, bench_case
    from biaslab.config.compose import CONF_DIR

    case = make_cases(["mnist1d"], 16, 512, str(data_dir))[0]
    plan = Plan(rounds=1, windows_per_round=1, window_s=0.05, warmup_s=0.01)
    row = bench_case(case, CONF_DIR, tmp_path, [f"paths.data_dir={data_dir}", "logger=none"], plan)
    assert row["steps_per_call"] == 10
    assert row["warmup_steps"] % 10 == 0 and row["window_steps"] % 10 == 0


def test_the_steps_per_call_mode_times_one_step_a_call_and_k_on_the_same_windows(
    tmp_path, data_dir
):
    """--steps-per-call 10 on the uint8 image case (batches made and augmented on the
    device): both arms train the same whole calls of 10 steps, and the ratio is theirs."""
    out = tmp_path / "bench.json"
    args = ["--quick", "--steps-per-call", "10", "--cases", "images-w4", "--out", str(out)]
    report = main([*args, "--data-dir", str(data_dir), "--override", "logger=none"])
    assert json.loads(out.read_text()) == report
    rows = report["steps_per_call"]
    assert [(r["case"], r["bias"]) for r in rows] == [("images-w4", True), ("images-w4", False)]
    for r in rows:
        assert r["k"] == 10 and (r["warmup_steps"], r["window_steps"]) == (10, 10)
        assert r["one"]["samples"] == r["k_steps"]["samples"] == 20 * r["batch_size"]
        one, k = r["one"]["samples_per_s"], r["k_steps"]["samples_per_s"]
        assert r["ratio"] == pytest.approx(k / one)
        assert r["ratio_per_round"] == [pytest.approx(r["ratio"])]


def test_the_raw_loop_makes_each_image_batch_as_the_project_path_does(tmp_path, data_dir):
    """The uint8 image case: the raw loop hands every batch, still uint8, to the data module's
    training_inputs at its step (scaling, crops and flips), as the project's task does."""
    import torch
    from hydra.utils import instantiate

    from biaslab.bench.cases import make_cases
    from biaslab.bench.clock import Windows
    from biaslab.bench.raw import run_raw
    from biaslab.bench.throughput import case_cfg
    from biaslab.config.compose import CONF_DIR

    case = make_cases(["images-w4"], 8, 64, str(data_dir))[0]
    cfg = case_cfg(case, [f"paths.data_dir={data_dir}", "logger=none"], tmp_path, CONF_DIR)
    data = instantiate(cfg.data)
    made, make = [], data.training_inputs

    def recording(batch, step):
        made.append((batch[0].dtype, step))
        return make(batch, step)

    data.training_inputs = recording
    run_raw(cfg, data, Windows(2, 3, 1, torch.device("cpu")))
    assert made == [(torch.uint8, step) for step in range(5)]


def test_steps_per_call_mode_needs_k_of_two_or_more(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--steps-per-call", "1"])
    assert e.value.code == 2
    assert "argument --steps-per-call: 1: expected K >= 2" in capsys.readouterr().err
