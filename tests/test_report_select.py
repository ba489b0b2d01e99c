"""The tuned comparison (``--select KEY --by val/METRIC``) on constructed runs whose right
answer is known: each arm is compared at its own best value on validation, never on test."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from biaslab import report
from biaslab.report import learned, select
from biaslab.report.tables import write_csv

from .helpers import build as build_report
from .helpers import write_run

LRS = (0.001, 0.01, 0.1)
SEEDS = range(5)
# (bias, lr) -> (val/acc_best, test/acc) before a small per-seed offset. On validation the
# bias arm is best at 1e-2 and the no-bias arm at 1e-3; on test the no-bias arm would have
# been best at 1e-2 (a choice on test would pick it there).
TABLE = {
    (True, 0.001): (0.80, 0.80),
    (True, 0.01): (0.92, 0.91),
    (True, 0.1): (0.70, 0.95),
    (False, 0.001): (0.88, 0.86),
    (False, 0.01): (0.85, 0.93),
    (False, 0.1): (0.60, 0.60),
}


def tuned_sweep(root: Path, table=TABLE, widths=(25,), lrs=LRS, seeds=SEEDS, **kw) -> None:
    for w in widths:
        for (bias, lr), (val, test) in table.items():
            if lr not in lrs:
                continue
            for s in seeds:
                off = 0.002 * s + (0.01 if w != 25 else 0.0)
                write_run(
                    root,
                    f"w{w}_lr{lr}_s{s}_{bias}",
                    seed=s,
                    bias=bias,
                    width=w,
                    metrics={"val/acc_best": val + off, "test/acc": test + off, **kw},
                    extra={"optimizer": {"lr": lr}},
                )


def build(root: Path, **kw) -> report.Report:
    """The report with each arm tuned on optimizer.lr by val/acc_best."""
    return build_report(root, select_key="optimizer.lr", by="val/acc_best", **kw)


def test_each_arm_compared_at_its_own_best_value_on_validation(tmp_path):
    tuned_sweep(tmp_path)
    rep = build(tmp_path)
    assert rep.group_keys == [] and rep.select == "optimizer.lr"
    chosen = {s.arm: s.chosen for s in rep.selections}
    assert chosen == {True: 0.01, False: 0.001}
    (g,) = rep.groups
    (cmp,) = g.comparisons
    # true at 1e-2 (test 0.91) minus false at 1e-3 (test 0.86), paired by seed
    assert cmp.usable == list(SEEDS)
    assert cmp.diffs == pytest.approx({s: 0.05 for s in SEEDS})
    for arm in g.arms:  # only the chosen value's runs are in each arm
        lrs = {r.config["optimizer.lr"] for rs in arm.runs.values() for r in rs}
        assert lrs == {chosen[arm.value]}
    # picking on test would have given true at 0.1 (0.95) vs false at 0.01 (0.93): not this
    cands = {(s.arm, c.value): c for s in rep.selections for c in s.candidates}
    assert cands[(False, 0.01)].mean == pytest.approx(0.85 + 0.004)
    assert cands[(True, 0.1)].n == 5 and cands[(True, 0.1)].failed == 0


def test_report_states_grid_and_choice_per_arm(tmp_path):
    tuned_sweep(tmp_path)
    rep = build(tmp_path)
    md = report.render_markdown(rep)
    assert "## Tuned selection" in md
    assert "Grid of `optimizer.lr`: `0.001`, `0.01`, `0.1`" in md
    assert (
        "| all runs | true | 0.001: 80.4 (n=5); 0.01: 92.4 (n=5); 0.1: 70.4 (n=5) | **0.01** |"
        in md
    )
    assert "| all runs | false |" in md and "| **0.001** |" in md
    assert "`model.bias=true` at `optimizer.lr=0.01` vs `false` at `optimizer.lr=0.001`" in md
    assert "never read for the choice" in md and select.TIE_RULE in md
    write_csv(rep, tmp_path / "s.csv")
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    col = "optimizer.lr (chosen by val/acc_best)"
    assert {r["model.bias"]: r[col] for r in rows} == {"false": "0.001", "true": "0.01"}


def test_a_choice_at_an_end_of_the_grid_is_flagged(tmp_path):
    # false is best at 1e-3, the smallest value tried: its best may lie below the grid
    tuned_sweep(tmp_path)
    rep = build(tmp_path)
    assert {s.arm: s.at_edge for s in rep.selections} == {True: False, False: True}
    md = report.render_markdown(rep)
    assert "⚠ Chosen at an end of the grid in 1 of 2 arms" in md
    assert "all runs, `false`: 0.001" in md
    # a grid of two values has no inside: nothing to flag
    tmp = tmp_path / "two"
    tuned_sweep(tmp, lrs=(0.001, 0.01))
    assert not any(s.at_edge for s in build(tmp).selections)
    assert "end of the grid" not in report.render_markdown(build(tmp))


def test_selection_is_per_group(tmp_path):
    # at width 8 the no-bias arm is best at 1e-2 instead
    tuned_sweep(tmp_path, widths=(25,))
    table8 = dict(TABLE)
    table8[(False, 0.01)] = (0.95, 0.90)
    tuned_sweep(tmp_path, table=table8, widths=(8,))
    rep = build(tmp_path)
    assert rep.group_keys == ["model.width"]
    chosen = {(dict(s.group)["model.width"], s.arm): s.chosen for s in rep.selections}
    assert chosen == {(8, False): 0.01, (8, True): 0.01, (25, False): 0.001, (25, True): 0.01}
    w8 = next(g for g in rep.groups if g.key == (("model.width", 8),))
    assert w8.comparisons[0].diffs == pytest.approx({s: 0.01 for s in SEEDS})


def test_direction_follows_the_metric(tmp_path):
    # a lower-is-better metric picks the smallest mean
    for s in SEEDS:
        for lr, loss in ((0.001, 0.5), (0.01, 0.2), (0.1, 0.9)):
            for bias in (True, False):
                write_run(
                    tmp_path,
                    f"lr{lr}_s{s}_{bias}",
                    seed=s,
                    bias=bias,
                    metrics={"val/loss": loss + (0.1 if bias else 0), "test/acc": 0.9},
                    extra={"optimizer": {"lr": lr}},
                )
    rep = report.build_report(
        report.load_files([tmp_path]),
        report.ReportOptions(select_key="optimizer.lr", by="val/loss"),
    )
    assert {s.arm: s.chosen for s in rep.selections} == {True: 0.01, False: 0.01}


def test_failed_runs_count_against_a_value_and_ties_take_the_smallest():
    cands = [
        select.Candidate(0.1, 5, 1, 0.99),  # the best mean, but one seed diverged
        select.Candidate(0.01, 5, 0, 0.90),
        select.Candidate(0.001, 5, 0, 0.90),
    ]
    assert select.choose(cands, "val/acc_best") == 0.001  # tie at 0.90: the smaller value
    cands[1].mean = 0.91
    assert select.choose(cands, "val/acc_best") == 0.01
    diverged = report.Run("r", "diverged", 0, {}, {"val/acc_best": 0.99})
    ok = report.Run("r", "completed", 1, {}, {"val/acc_best": 0.5})
    assert select.score([diverged, ok], "val/acc_best") == (1, 0.5, 0.5)


def test_diverged_run_disqualifies_its_value(tmp_path):
    tuned_sweep(tmp_path)
    # seed 3 of bias=true at 1e-2 diverged: 1e-3 (no failure) is chosen for that arm
    write_run(
        tmp_path,
        "w25_lr0.01_s3_True",
        seed=3,
        bias=True,
        status="diverged",
        metrics={"val/acc_best": 0.95},
        extra={"optimizer": {"lr": 0.01}},
    )
    rep = build(tmp_path)
    assert {s.arm: s.chosen for s in rep.selections} == {True: 0.001, False: 0.001}


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"select_key": "optimizer.lr"}, "--select and --by go together"),
        ({"select_key": "optimizer.lr", "by": "test/acc"}, "the test set never chooses"),
        ({"select_key": "model.bias", "by": "val/acc_best"}, "cannot also be tuned"),
        ({"select_key": "optimizer.momentum", "by": "val/acc_best"}, "no run has this"),
        ({"select_key": "optimizer.lr", "by": "val/nope"}, "no run recorded this metric"),
    ],
)
def test_bad_selection_is_refused(tmp_path, kw, message):
    tuned_sweep(tmp_path, seeds=range(2))
    with pytest.raises(ValueError, match=message):
        report.build_report(report.load_files([tmp_path]), report.ReportOptions(**kw))


def test_cli_select(tmp_path, capsys):
    tuned_sweep(tmp_path)
    from biaslab.report.cli import main

    code = main(
        [str(tmp_path), "--select", "optimizer.lr", "--by", "val/acc_best", "--out", str(tmp_path)]
    )
    assert code == 0
    md = (tmp_path / "report.md").read_text()
    assert "--select optimizer.lr --by val/acc_best" in md and "## Tuned selection" in md
    assert main([str(tmp_path), "--select", "optimizer.lr", "--by", "test/acc"]) == 2
    assert "the test set never chooses" in capsys.readouterr().err


# ---------------------------------------------------------------- steps to threshold


def test_steps_to_threshold_as_a_report_metric(tmp_path):
    """Lower is better; a run that never reached the threshold (null) is listed, not used."""
    metric = "val/steps_to_0.1"
    for s in SEEDS:
        for fb, steps in ((False, 3000 + 100 * s), (True, 1500 + 90 * s)):
            write_run(tmp_path, f"s{s}_{fb}", seed=s, bias=fb, metrics={metric: steps})
    write_run(tmp_path, "s5_True", seed=5, bias=True, metrics={metric: None})
    write_run(tmp_path, "s5_False", seed=5, bias=False, metrics={metric: 4000})
    rep = report.build_report(report.load_files([tmp_path]), report.ReportOptions(metric=metric))
    (cmp,) = rep.groups[0].comparisons
    assert cmp.kind == "helps" and cmp.test.diff < 0
    assert any("never reached" in why for _, _, why in rep.problems)
    assert "conditional on reaching it" in report.render_markdown(rep)


def jittered_sweep(root: Path, table=TABLE) -> None:
    """TABLE's runs with a per-seed jitter on the bias arm's test score (so the paired
    differences have a spread to test)."""
    for (bias, lr), (val, test) in table.items():
        for s in SEEDS:
            jitter = 0.003 * (s - 2) if bias else 0.0
            write_run(
                root,
                f"lr{lr}_s{s}_{bias}",
                seed=s,
                bias=bias,
                metrics={"val/acc_best": val + 0.002 * s, "test/acc": test + jitter},
                extra={"optimizer": {"lr": lr}},
            )


def test_arms_chosen_at_different_values_are_also_compared_at_each_shared_value(tmp_path):
    """true chose 0.01 and false 0.001: the tuned difference (+5 pts) mixes the bias with the
    lr. The report compares the arms at each lr both ran (-6, -2, +35 pts) and flags the
    verdict with that range."""
    jittered_sweep(tmp_path)
    rep = build(tmp_path, classes=10)
    at = {a.at: a.cmp.test.diff for a in rep.at_same_value}
    assert at == pytest.approx({0.001: -0.06, 0.01: -0.02, 0.1: 0.35})
    (cmp,) = rep.comparisons
    assert cmp.test.diff == pytest.approx(0.05)
    (flag,) = [f for f in cmp.flags if "different" in f]
    assert "chosen at different `optimizer.lr` (0.01 vs 0.001)" in flag
    assert "at the 3 `optimizer.lr` values both arms ran it is -6.0 to +35.0 pts" in flag
    md = report.render_markdown(rep)
    assert "## Arms at the same `optimizer.lr`" in md
    assert "| optimizer.lr=0.001 | optimizer.lr=0.01 | optimizer.lr=0.1 |" in md
    assert f"  - ⚠ {flag}" in md


def test_the_differing_choice_flag_counts_values_both_ran_that_could_not_be_tested(tmp_path):
    """Both arms ran 3 lrs, but at 0.1 the no-bias runs stayed at chance: no usable pair there.
    The flag says the range covers 2 of the 3 values both ran, not "the 2 values both ran"."""
    stuck = {**TABLE, (False, 0.1): (0.10, 0.10)}
    jittered_sweep(tmp_path, stuck)
    rep = build(tmp_path, classes=10)
    (cmp,) = rep.comparisons
    (flag,) = [f for f in cmp.flags if "different" in f]
    assert (
        "at 2 of 3 `optimizer.lr` values both arms ran it is -6.0 to -2.0 pts "
        "(the others have fewer than 2 usable pairs); see" in flag
    )
    md = report.render_markdown(rep)
    assert "| optimizer.lr=0.001 | optimizer.lr=0.01 |" in md
    assert "optimizer.lr=0.1 |" not in md  # a column of nothing tested is not drawn


def test_arms_at_the_same_chosen_value_are_not_flagged(tmp_path):
    same = {**TABLE, (False, 0.001): (0.80, 0.86), (False, 0.01): (0.90, 0.93)}
    jittered_sweep(tmp_path, same)
    rep = build(tmp_path, classes=10)
    assert {s.chosen for s in rep.selections} == {0.01}
    (cmp,) = rep.comparisons
    assert not [f for f in cmp.flags if "different" in f]
    assert len(rep.at_same_value) == 3  # the section is still there, for every report


def test_sources_count_every_run_read_not_only_the_chosen_ones(tmp_path):
    """A sweep whose runs all lost the selection is still named, with its runs read."""
    for name, lrs in (("main", (0.001, 0.01)), ("extra", (0.1,))):
        tuned_sweep(tmp_path / name, lrs=lrs)
        (tmp_path / name / "multirun.yaml").write_text("{}\n")  # what marks a Hydra sweep
    rep = report.build_report(
        report.load_files([tmp_path]),
        report.ReportOptions(select_key="optimizer.lr", by="val/acc_best", pool=True),
    )
    lines = {line.split("`")[1].rsplit("/", 1)[-1]: line for line in rep.sources if "`" in line}
    assert "20 runs read; used 5 seeds in 1 group" in lines["main"]
    assert lines["extra"].endswith("10 runs read; none used")


def test_a_run_at_chance_on_validation_counts_against_its_value(tmp_path):
    """The selection's failures are the comparison's: a seed that stayed at chance at lr 0.01
    (val/acc_best 9.5 %, 10 classes) makes 0.01 lose to 0.001, whose runs all learned,
    though 0.01's mean over all five runs is still the highest."""
    table = {**TABLE, (True, 0.001): (0.70, 0.80), (True, 0.1): (0.60, 0.95)}
    tuned_sweep(tmp_path, table)
    write_run(
        tmp_path,
        "w25_lr0.01_s2_True",
        seed=2,
        bias=True,
        metrics={"val/acc_best": 0.095, "test/acc": 0.10},
        extra={"optimizer": {"lr": 0.01}},
    )
    assert learned.at_chance(0.095, "val/acc_best", 10)
    assert not learned.at_chance(0.2, "val/acc", 10)
    rep = build(tmp_path, classes=10)
    (sel,) = [s for s in rep.selections if s.arm is True]
    by_value = {c.value: c for c in sel.candidates}
    assert by_value[0.01].failed == 1 and by_value[0.001].failed == 0
    assert sel.chosen == 0.001
    # without a chance level nothing says the run failed, and 0.01 wins on its mean
    (blind,) = [s for s in build(tmp_path).selections if s.arm is True]
    assert blind.chosen == 0.01


def test_when_every_value_failed_the_means_still_order_them():
    """Runs at chance are failures, but where every value's runs all failed the mean over
    every finite value still ranks them (not the smallest value by default)."""
    cands = [
        select.Candidate(0.001, 5, 5, math.nan, 0.97),
        select.Candidate(0.01, 5, 5, math.nan, 0.92),
        select.Candidate(0.1, 5, 5, math.nan, 1.0),
    ]
    assert select.choose(cands, "val/mse_over_baseline") == 0.01
    assert select.choose(cands, "val/acc") == 0.1


def test_only_accuracy_and_ratio_metrics_have_a_chance_level():
    assert learned.at_chance(0.95, "val/mse_over_baseline", None)
    assert not learned.at_chance(0.0, "val/acc_best_step", 10)  # a step, not an accuracy
    assert not learned.at_chance(0.05, "val/loss", 10)
    assert not learned.at_chance(0.05, "val/acc", None)  # no chance level known


def test_the_differing_choice_flag_with_one_shared_value(tmp_path):
    """Only one lr was run by both arms: the flag names that one value, and with none it
    does not point at a section that is not there."""
    one = {k: v for k, v in TABLE.items() if k != (True, 0.001) and k != (False, 0.1)}
    jittered_sweep(tmp_path / "one", one)
    (cmp,) = build(tmp_path / "one", classes=10).comparisons
    (flag,) = [f for f in cmp.flags if "different" in f]
    assert "at the one `optimizer.lr` value both arms ran it is -2.0 pts; see" in flag
    none = {k: v for k, v in TABLE.items() if k in {(True, 0.01), (False, 0.001)}}
    jittered_sweep(tmp_path / "none", none)
    rep = build(tmp_path / "none", classes=10)
    (flag,) = [f for f in rep.comparisons[0].flags if "different" in f]
    assert flag.endswith("no `optimizer.lr` value of both arms has 2 usable pairs to compare")
    assert "## Arms at the same" not in report.render_markdown(rep)
