"""A study's plan, its records and its replay, on records written by hand (no training): the
plan is refused once edited, stage 1's choice is frozen, stage 2 asks only for the undecided
cells' next batch, runs outside the plan never enter a verdict, and the same records always
give the same decisions."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from biaslab.records.results import write_results
from biaslab.report.load import load_files
from biaslab.resume import fingerprint
from biaslab.study import preset, progress, records
from biaslab.study import report as study_report
from biaslab.study import run as study_run
from biaslab.study.cli import main
from biaslab.study.launch import products
from biaslab.study.plan import Plan, PlanError, read, write


def make_plan(**kw) -> Plan:
    base = dict(
        name="t",
        experiment="bias_vs_width",
        arms=["true", "false"],
        cells={"model.width": ["4", "8"]},
        tune="optimizer.lr",
        grid=["0.01", "0.03"],
        validation_rule="stated",
        delta=0.01,
        alpha=0.05,
        c2=0.5,
        batch=3,
        cap=9,
        budget=60,
        m=2,
        tuning_seeds=[100],
        confirm_start=1000,
        failed_rule="stated",
        fail_at_most=0.15,
    )
    return Plan(**{**base, **kw})


def record(folder, h, bias, width, lr, seed, acc, val=0.8, status="completed", metric="test/acc"):
    cfg = {
        "model": {"bias": bias == "true", "width": int(width)},
        "optimizer": {"lr": float(lr)},
        "seed": seed,
        "study": {"plan_hash": h},
    }
    metrics = {metric: acc, "val/acc": val, "val/acc_best": val}
    write_results(
        folder / f"{bias}-{width}-{lr}-{seed}",
        dict(status=status, seed=seed, config=cfg, metrics=metrics),
    )


def fill_tuning(folder, plan, h):
    for bias in plan.arms:
        for width in ("4", "8"):
            for lr in plan.grid:
                for s in plan.tuning_seed_list():
                    val = 0.7 + (0.1 if lr == "0.03" else 0)
                    record(folder / "runs" / "tune", h, bias, width, lr, s, 0.5, val)


def fill_look(folder, plan, h, k, effect, rng):
    for width, eff in effect.items():
        for s in range(plan.confirm_start + (k - 1) * 3, plan.confirm_start + k * 3):
            base = 0.8 + rng.normal(0, 0.01)
            record(folder / "runs" / f"look{k}", h, "true", width, "0.03", s, base + eff)
            other = base + rng.normal(0, 0.01)
            record(folder / "runs" / f"look{k}", h, "false", width, "0.03", s, other)


def test_plan_refused_once_edited(tmp_path):
    plan = make_plan()
    h = write(plan, tmp_path)
    assert read(tmp_path) == (plan, h)
    text = (tmp_path / "plan.yaml").read_text().replace("cap: 9", "cap: 12")
    (tmp_path / "plan.yaml").write_text(text)
    with pytest.raises(PlanError, match="plan.yaml: hash"):
        read(tmp_path)
    with pytest.raises(PlanError, match="already holds a plan"):
        write(plan, tmp_path)


def test_plan_refuses_overlapping_seeds_and_a_wrong_m():
    with pytest.raises(ValueError, match="overlaps the tuning seeds"):
        make_plan(confirm_start=101)
    with pytest.raises(ValueError, match="m=3"):
        make_plan(m=3)
    with pytest.raises(ValueError, match="multiple of batch"):
        make_plan(cap=10)


def test_published_seeds_refused():
    assert set(range(25)) <= preset.published_seeds("bias_vs_norm")
    args = argparse.Namespace(
        experiment="bias_vs_norm",
        overrides=["model.bias=true,false"],
        compare="model.bias",
        arms=None,
        tune="optimizer.lr",
        grid=None,
        select_by="val/acc_best",
        metric="test/acc",
        direction=None,
        scale="linear",
        delta=None,
        alpha=0.05,
        batch=3,
        cap=9,
        budget=None,
        tuning_seed=20,
        tuning_packs=1,
        pack=True,
        confirm_seed=9100,  # above results/bias_vs_norm_study/'s 100-102 and 1000-1023
        fail_metric="val/acc",
        fail_at_most=None,
        launcher=None,
        logger="none",
        threads=None,
        name="x",
        out="x",
    )
    with pytest.raises(PlanError, match="published"):
        preset.from_args(args)
    args.tuning_seed = 9000
    plan = preset.from_args(args)
    assert plan.cells == {"model.norm": ["none", "batch"], "model.width": ["8", "32"]}
    assert plan.m == 4 and plan.grid == ["0.01", "0.03", "0.1"]
    assert plan.arms == ["true", "false"]
    args.overrides = ["model.bias=true,false", "model.width=8", "optimizer.lr=0.03"]
    args.tune = "none"
    plan = preset.from_args(args)  # a key fixed on the command line is no cell axis
    assert plan.cells == {"model.norm": ["none", "batch"]} and plan.m == 2


def test_stage1_choice_and_stage2_rounds(tmp_path):
    plan = make_plan()
    h = write(plan, tmp_path)
    rec = records.read(plan, h, tmp_path)
    _, missing = progress.choose(plan, rec)
    assert len(missing) == 8 and products(missing) == [
        ["model.bias=true,false", "model.width=4,8", "optimizer.lr=0.01,0.03", "seed=100"]
    ]
    fill_tuning(tmp_path, plan, h)
    choice = study_run.stage1(plan, h, tmp_path)
    assert choice == {f"model.width={w}": {"true": "0.03", "false": "0.03"} for w in "48"}
    state = progress.replay(plan, records.read(plan, h, tmp_path), choice)
    assert state.tag == "look1" and len(state.missing) == 4
    rng = np.random.default_rng(0)
    effects = {"4": 0.2, "8": 0.0}
    for k in (1, 2, 3):
        fill_look(tmp_path, plan, h, k, effects, rng)
        state = progress.replay(plan, records.read(plan, h, tmp_path), choice)
        if k == 2:  # width 4 decided: only width 8 runs on
            assert state.cells[0].looks[-1].verdict == "helps"
            assert {dict(j)["model.width"] for j in state.missing} == {"8"}
            effects.pop("4")
    assert not state.missing and state.cells[0].stopped == "decided"
    assert state.cells[1].stopped in ("decided", "cap")


def test_exploratory_runs_never_enter_a_verdict(tmp_path):
    plan = make_plan(tune=None, grid=[], cells={"model.width": ["4"]}, m=1, tuning_seeds=[])
    h = write(plan, tmp_path)
    rng = np.random.default_rng(1)
    for k in (1, 2, 3):
        fill_look(tmp_path, plan, h, k, {"4": 0.0}, rng)
    study_run.stage1(plan, h, tmp_path)
    # another hash, a seed outside the plan, a grid value outside it: exploratory
    record(tmp_path / "x", "other", "true", "4", "0.03", 1000, 0.99)
    record(tmp_path / "x", h, "true", "4", "0.03", 7, 0.99)
    before = study_report.report(tmp_path)
    assert "Exploratory runs (outside the plan; in no verdict): 2" in before
    record(tmp_path / "y", h, "true", "4", "0.5", 1001, 0.99)  # a second record of a place
    after = study_report.report(tmp_path)
    rows = [
        [line for line in t.splitlines() if line.startswith("| model.")] for t in (before, after)
    ]
    assert rows[0] == rows[1] and len(rows[0]) == 1
    assert "Places recorded twice (a packed job killed part-way" in after


def test_failed_pairs_left_out_and_counted(tmp_path):
    plan = make_plan(tune=None, grid=[], cells={"model.width": ["4"]}, m=1, tuning_seeds=[])
    h = write(plan, tmp_path)
    for s in range(1000, 1009):
        record(tmp_path, h, "true", "4", "0.03", s, 0.1, val=0.1)  # at chance: failed
        record(tmp_path, h, "false", "4", "0.03", s, 0.8)
    state = progress.replay(plan, records.read(plan, h, tmp_path), {"model.width=4": {}})
    cell = state.cells[0]
    assert cell.failures == {"true": 9, "false": 0} and cell.discordant == (9, 0)
    assert cell.looks[-1].n == 0 and cell.stopped == "cap"
    assert cell.failure_evidence == pytest.approx(9 * math.log(2) - math.log(10))
    study_run.stage1(plan, h, tmp_path)
    row = next(x for x in study_report.report(tmp_path).splitlines() if x.startswith("| model."))
    assert "| 9/9, 0/9 | 0.0195: model.bias=true fails more often |" in row


def test_plan_hash_leaves_the_fingerprint_alone():
    """Runs of a study still match their config without the study key (and published runs
    match a study's config)."""
    cfg = {"model": {"width": 4}, "seed": 1}
    assert fingerprint.of({**cfg, "study": {"plan_hash": "abc"}}) == fingerprint.of(cfg)


def test_a_run_off_the_plans_fixed_overrides_is_exploratory(tmp_path):
    plan = make_plan(overrides=["trainer.max_steps=300"])
    run = load_files(
        [
            write_results(
                tmp_path,
                dict(
                    status="completed",
                    seed=1000,
                    metrics={},
                    config={
                        "model": {"bias": True, "width": 4},
                        "optimizer": {"lr": 0.03},
                        "trainer": {"max_steps": 200},
                        "study": {"plan_hash": "h"},
                    },
                ),
            )
        ]
    )[0]
    assert records.place(plan, run, "h") is None
    run.config["trainer.max_steps"] = 300
    assert records.place(plan, run, "h") == records.Key(
        "true", (("model.width", "4"),), "0.03", 1000
    )


def test_cli_refuses_bad_input(tmp_path, capsys):
    code = main(
        [
            "plan",
            "+experiment=bias_vs_width",
            "--arms",
            "true,false,auto",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --arms=true,false,auto") and "\n" not in err


def test_log_scale_reports_a_geometric_mean_ratio(tmp_path):
    """A ratio metric on the log scale: first/second as a ratio, the margin as a ratio."""
    plan = make_plan(
        tune=None,
        grid=[],
        cells={"model.width": ["4"]},
        m=1,
        tuning_seeds=[],
        metric="test/mse",
        direction="min",
        scale="log",
        delta=1.25,
        fail_at_most=None,
    )
    h = write(plan, tmp_path)
    rng = np.random.default_rng(3)
    for s in range(1000, 1009):
        base = 0.1 * np.exp(rng.normal(0, 0.05))
        other = base * np.exp(rng.normal(0, 0.05))
        record(tmp_path, h, "true", "4", "0.03", s, base * 0.5, metric="test/mse")  # helps
        record(tmp_path, h, "false", "4", "0.03", s, other, metric="test/mse")
    study_run.stage1(plan, h, tmp_path)
    text = study_report.report(tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| model.width=4"))
    assert "model.bias=true helps" in row and "×0.5" in row
    assert "margin ×0.8 to ×1.25" in text and "geometric mean ratio" in text


def test_cli_refuses_a_plan_that_cannot_run(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(["plan", "+experiment=bias_vs_width", "--cap=10", f"--out={out}"])
    assert code == 2 and not out.exists()
    assert capsys.readouterr().err == "error: cap=10: must be a multiple of batch=3\n"


def test_forget_bias_plan_runs_a_job_per_seed_on_the_log_scale():
    """The LSTM does not pack seeds: a job per seed, the seeds merged into one sweep; an arm
    of null matches a run whose forget_bias is None; seeds 0-9 are published there."""
    args = argparse.Namespace(
        experiment="forget_bias",
        overrides=["data.length=100"],
        compare="model.forget_bias",
        arms="1,null",
        tune="none",
        grid=None,
        select_by="val/mse",
        metric="test/mse",
        direction="min",
        scale="log",
        delta=1.25,
        alpha=0.05,
        batch=3,
        cap=9,
        budget=None,
        tuning_seed=100,
        tuning_packs=1,
        confirm_seed=5,
        fail_metric="val/mse",
        fail_at_most=None,
        launcher=None,
        logger="none",
        threads=None,
        name="fb",
        out="fb",
        pack=True,
    )
    with pytest.raises(PlanError, match="published"):
        preset.from_args(args)
    args.confirm_seed = 1000  # published since: forget_bias_t100_study's seeds
    with pytest.raises(PlanError, match="published"):
        preset.from_args(args)
    args.confirm_seed = 2000
    plan = preset.from_args(args)
    assert not plan.pack and plan.cells == {} and plan.m == 1 and plan.arms == ["1", "null"]
    state = progress.replay(plan, records.Records({}, []), {"(one cell)": {}})
    assert products(state.missing) == [["model.forget_bias=1,null", "seed=2000,2001,2002"]]
    assert records.same(None, "null") and not records.same(None, "1")


def test_a_choice_at_an_end_of_the_grid_is_flagged_in_the_report():
    """As the sweep report does: an arm tuned to the grid's smallest or largest value may be
    better outside it. Three or more numeric values (unsorted in the plan); none for two."""
    plan = make_plan(grid=["0.03", "0.003", "0.01"])
    choice = {"model.width=4": {"true": "0.03", "false": "0.01"},
              "model.width=8": {"true": "0.01", "false": "0.003"}}  # fmt: skip
    (warning, blank) = study_report._edges(plan, choice)
    assert warning.startswith("⚠ Chosen at an end of the grid in 2 of 4 arms: the best")
    assert warning.endswith("model.width=4, `true`: 0.03; model.width=8, `false`: 0.003")
    assert study_report._edges(plan, {"model.width=4": {"true": "0.01"}}) == []
    assert study_report._edges(make_plan(), {"model.width=4": {"true": "0.03"}}) == []
