"""The report's verdicts on constructed runs with known answers: learned-checks, three-way verdicts,
Holm, robust checks, solve rates, identical arms, mixed sources."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from biaslab import report
from biaslab.records.results import write_results
from biaslab.report import learned, stats

from .helpers import build, paired_runs, write_run

# ---------------------------------------------------------------- learned-checks


def test_collapsed_pair_is_excluded_and_named(tmp_path):
    paired_runs(tmp_path, [0.30, 0.32, 0.34, 0.31, 0.33], [0.10, 0.11, 0.09, 0.12, 0.10])
    collapsed = tmp_path / "w25_s2_True" / "results.json"
    write_run(tmp_path, "w25_s2_True", seed=2, bias=True, metrics={"test/acc": 0.089})
    rep = build(tmp_path, classes=10)
    (cmp,) = rep.groups[0].comparisons
    assert cmp.n_pairs == 5 and cmp.usable == [0, 1, 3, 4]
    ((seed, why),) = cmp.not_learned
    assert seed == 2 and str(collapsed) in why and "8.9 % within 2 pts of chance (10 %)" in why
    assert cmp.test.n == 4 and cmp.test.diff == pytest.approx(0.1075)
    assert "1 of 5 pairs did not learn, excluded" in cmp.verdict
    md = report.render_markdown(rep)
    assert f"seed 2 did not learn, pair excluded: `true` ({collapsed})" in md
    # without the chance level the collapsed run counts, and drags the mean difference down
    (blind,) = build(tmp_path).groups[0].comparisons
    assert blind.usable == [0, 1, 2, 3, 4] and blind.test.diff < 0.05


def test_a_verdict_that_rests_on_an_excluded_pair_says_so(tmp_path):
    """The excluded pair is the treatment's collapse: with it kept the difference straddles
    0, so the "helps" verdict carries a flag with the all-pairs test and the exact test of
    the collapse counts; where it does not change the answer there is no flag."""
    paired_runs(tmp_path, [0.30, 0.32, 0.34, 0.31, 0.33], [0.10, 0.11, 0.09, 0.12, 0.10])
    write_run(tmp_path, "w25_s2_True", seed=2, bias=True, metrics={"test/acc": 0.089})
    rep = build(tmp_path, classes=10)
    (cmp,) = rep.comparisons
    assert cmp.kind == "helps"
    all_pairs = sps.ttest_rel([0.40, 0.43, 0.089, 0.43, 0.43], [0.30, 0.32, 0.34, 0.31, 0.33])
    assert cmp.all_pairs.p == pytest.approx(all_pairs.pvalue)
    assert cmp.did_not_learn == (1, 0, 1.0)
    (flag,) = cmp.flags
    assert flag.startswith("with the 1 excluded pair kept the difference is +3.6 pts")
    assert "this verdict rests on leaving it out (did not learn: `true` 1/5" in flag
    assert "every paired seed kept" in report.render_markdown(rep)
    # an excluded pair whose difference is like the others' (a train loss at ln 10 but a
    # good test score): the all-pairs interval stays above 0, no flag
    write_run(
        tmp_path,
        "w25_s2_True",
        seed=2,
        bias=True,
        metrics={"test/acc": 0.43, "train/loss": math.log(10)},
    )
    (cmp,) = build(tmp_path, classes=10).comparisons
    assert cmp.all_pairs.ci_low > 0 and cmp.kind == "helps" and not cmp.flags


def test_a_verdict_the_excluded_pairs_turn_around_says_so(tmp_path):
    """Six learned pairs at +2 pts, six where the bias arm stayed at chance: "helps" on the
    usable pairs, the other way with every pair kept, and the flag says so."""
    base = [0.80, 0.82, 0.81, 0.79, 0.83, 0.80] * 2
    gains = [0.02, 0.021, 0.019, 0.022, 0.018, 0.02] + [0.0] * 6
    paired_runs(tmp_path, base, gains)
    for s in range(6, 12):
        write_run(tmp_path, f"w25_s{s}_True", seed=s, bias=True, metrics={"test/acc": 0.1})
    (cmp,) = build(tmp_path, classes=10).comparisons
    assert cmp.kind == "helps" and cmp.all_pairs.ci_high < 0
    (flag,) = cmp.flags
    assert flag.startswith("with the 6 excluded pairs kept the difference is -")
    assert (
        ": the other way (did not learn: `true` 6/12, baseline 0/12, exact paired p=0.031)" in flag
    )


def test_a_seed_count_past_the_limit_is_not_called_impossible(tmp_path):
    assert stats.seeds_needed(0.024, 0.01, 0.0099) is None  # |d| < δ, but past 10,000 seeds
    paired_runs(tmp_path, [0.8] * 5, [0.0099 + e for e in (0.03, -0.03, 0.015, -0.015, 0.0)])
    (cmp,) = build(tmp_path, margin=0.01).comparisons
    assert cmp.kind == "inconclusive"
    assert "±1 pt needs more than 10,000 seeds" in cmp.verdict


def test_train_loss_at_ln_classes_means_not_learned():
    run = report.Run("r", "completed", 0, {}, {"test/acc": 0.4, "train/loss": math.log(10)})
    assert "≈ ln 10" in learned.why_not_learned(run, "test/acc", 10)
    run.metrics["train/loss"] = 1.2
    assert learned.why_not_learned(run, "test/acc", 10) is None


def test_classes_come_from_the_data_module():
    run = report.Run("r", "completed", 0, {"data._target_": "biaslab.data.digits.Digits"})
    assert learned.classes_of(run, {}) == 10
    run.config["data._target_"] = "biaslab.data.sequence.Adding"  # one regression output
    assert learned.classes_of(run, {}) is None


def test_both_arms_at_chance_is_inconclusive(tmp_path):
    # a real-looking difference between two arms that both guess: never "no difference"
    paired_runs(tmp_path, [0.10, 0.095, 0.105, 0.1, 0.098], [0.01, 0.012, 0.009, 0.011, 0.01])
    (cmp,) = build(tmp_path, classes=10).groups[0].comparisons
    assert cmp.kind == "inconclusive"
    assert cmp.verdict.startswith("inconclusive: no pair where both arms learned (5 of 5")
    assert "equivalent" not in cmp.verdict and "helps" not in cmp.verdict


# ---------------------------------------------------------------- three-way verdicts


def test_tost_against_hand_computation():
    d = [0.1, -0.1, 0.0, 0.05, -0.05]  # mean 0, variance 0.025 / 4
    half = sps.t.ppf(0.95, 4) * math.sqrt(0.025 / 4) / math.sqrt(5)
    eq = stats.tost(d, 0.2)
    assert (eq.ci_low, eq.ci_high) == pytest.approx((-half, half))
    assert eq.equivalent and eq.p < 0.05
    assert not stats.tost(d, half * 0.9).equivalent  # the margin inside the interval


def test_difference_outside_the_margin_is_not_equivalent(tmp_path):
    # +0.5 pts on average, SD 1.6 pts: neither significant nor inside ±1 pt
    paired_runs(tmp_path, [0.8] * 5, [0.02, -0.01, 0.015, -0.005, 0.005])
    (cmp,) = build(tmp_path).groups[0].comparisons
    assert cmp.test.p > 0.05 and not cmp.equivalence.equivalent
    assert cmp.kind == "inconclusive"
    assert f"±1 pt needs ≈ {cmp.seeds_needed} seeds at 80 % power (TOST" in cmp.verdict


@pytest.mark.parametrize(("sd", "diff"), [(0.5, -0.7), (1.2, -0.63), (0.5, 0.0)])
def test_seeds_needed_give_a_tost_80_percent_power(sd, diff):
    """The seed count is the TOST's, at the observed difference: with it, simulated paired
    differences show equivalence within ±1 about 80 % of the time, and with one seed fewer
    less often. (The t-test formula 7.85 (s/δ)² + 2 said 4 seeds for SD 0.5 whatever the
    difference, where at -0.7 the TOST needs about 19.)"""
    n = stats.seeds_needed(sd, 1.0, diff)
    rng = np.random.default_rng(0)

    def rate(k):
        return np.mean([stats.tost(rng.normal(diff, sd, k), 1.0).equivalent for _ in range(3000)])

    assert 0.77 <= rate(n) <= 0.86
    assert rate(n - 1) < rate(n) or n <= 3


def test_no_seed_count_when_the_observed_difference_is_past_the_margin(tmp_path):
    assert stats.seeds_needed(1.0, 1.0, 1.2) is None and stats.seeds_needed(1.0, 1.0, -1.0) is None
    # +1.5 pts on average, SD 3 pts: inconclusive, and no seed count can make it equivalent
    paired_runs(tmp_path, [0.8] * 5, [0.05, -0.02, 0.03, -0.01, 0.025])
    (cmp,) = build(tmp_path).groups[0].comparisons
    assert cmp.kind == "inconclusive" and cmp.seeds_needed is None
    assert "no number of seeds shows ±1 pt at the observed difference" in cmp.verdict


def test_a_clear_verdict_gets_no_seed_count(tmp_path):
    paired_runs(tmp_path, [0.30, 0.32, 0.34, 0.31, 0.33], [0.10, 0.11, 0.09, 0.12, 0.10])
    rep = build(tmp_path, classes=10)
    (cmp,) = rep.groups[0].comparisons
    assert cmp.kind == "helps"
    assert "seeds for 80 % power" not in report.render_markdown(rep)


# ---------------------------------------------------------------- multiplicity


def test_holm_on_a_known_family():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> kept at 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_verdicts_use_holm_adjusted_p(tmp_path):
    weak = [0.02, 0.011, 0.035, 0.004, 0.03]  # paired t p = 0.025 on its own
    for width in (8, 16, 32):
        paired_runs(tmp_path / str(width), [0.8] * 5, weak, width=width)
    rep = build(tmp_path)
    assert rep.family_size == 3
    raw = [c.test.p for c in rep.comparisons]
    assert raw == pytest.approx([0.0254376] * 3, rel=1e-4)
    assert [c.p_holm for c in rep.comparisons] == pytest.approx(stats.holm(raw))
    assert all(c.kind == "inconclusive" and "(Holm p=0.076)" in c.verdict for c in rep.comparisons)
    # alone, the same comparison would be called a help
    alone = build(tmp_path / "8")
    assert alone.family_size == 1 and alone.comparisons[0].kind == "helps"


CLOSE = [0.010, 0.0, 0.008, -0.002, 0.004]  # +0.4 pts, TOST p = 0.029 on its own within ±1 pt


def test_equivalence_verdicts_use_holm_adjusted_tost(tmp_path):
    for width in (8, 16, 32):
        paired_runs(tmp_path / str(width), [0.8] * 5, CLOSE, width=width)
    rep = build(tmp_path)
    assert rep.eq_family_size == 3
    raw = [c.equivalence.p for c in rep.comparisons]
    assert raw == pytest.approx([stats.tost(CLOSE, 0.01).p] * 3) and raw[0] < 0.05
    assert [c.equivalence.p_holm for c in rep.comparisons] == pytest.approx(stats.holm(raw))
    for c in rep.comparisons:
        assert c.equivalence.equivalent  # the interval alone lies inside ±1 pt
        assert c.kind == "inconclusive"
        assert "the 90 % CI lies inside the margin, but not after Holm over the 3" in c.verdict
    md = report.render_markdown(rep)
    assert "3 equivalence tests as a separate family" in md
    # seeds for 80 % power at Holm's first-step level 0.05 / 3, more than at 0.05
    (c, *_) = rep.comparisons
    assert c.seeds_needed == stats.seeds_needed(c.sd, 0.01, c.test.diff, alpha=0.05 / 3)
    assert c.seeds_needed > stats.seeds_needed(c.sd, 0.01, c.test.diff)
    # alone, the same comparison is equivalent, and says its adjusted p
    alone = build(tmp_path / "8")
    (c,) = alone.comparisons
    assert alone.eq_family_size == 1 and c.kind == "equivalent"
    alone_md = report.render_markdown(alone)
    assert "1 test, and the 1 equivalence test as a separate family" in alone_md
    # with no margin there is no equivalence family to name
    no_margin = report.render_markdown(build(tmp_path / "8", metric="train/loss"))
    assert "- Family for Holm's correction: 1 test (see *Method*)" in no_margin
    assert c.verdict.startswith("equivalent within ±1 pt: 90 % CI [") and ", Holm p=" in c.verdict


# ---------------------------------------------------------------- robust checks


def test_bootstrap_is_reproducible_and_bca():
    d = [0.1, 0.12, 0.08, 0.11, 0.5]
    assert stats.bootstrap_ci(d) == stats.bootstrap_ci(d)
    ref = sps.bootstrap(
        (d,),
        lambda x: sum(x) / len(x),
        method="BCa",
        n_resamples=9999,
        random_state=__import__("numpy").random.default_rng(0),
    )
    ci = ref.confidence_interval
    assert stats.bootstrap_ci(d) == pytest.approx((ci.low, ci.high), rel=1e-6)


def test_wilcoxon_disagreement_is_flagged(tmp_path):
    # 11 small gains and one large loss: the t-test sees nothing (p=0.68), the signed-rank
    # test sees 11 of 12 pairs improve (p=0.034)
    diffs = [0.01 + 0.001 * i for i in range(11)] + [-0.3]
    paired_runs(tmp_path, [0.6] * 12, diffs)
    (cmp,) = build(tmp_path).groups[0].comparisons
    assert cmp.test.p > 0.5 and cmp.wilcoxon_p < 0.05
    (flag,) = cmp.flags
    assert "robust checks disagree" in flag and "Wilcoxon p=0.034" in flag
    assert "⚠ robust checks disagree" in report.render_markdown(build(tmp_path))


def test_agreeing_checks_are_not_flagged(tmp_path):
    paired_runs(tmp_path, [0.6] * 8, [0.05, 0.06, 0.04, 0.05, 0.055, 0.045, 0.05, 0.052])
    (cmp,) = build(tmp_path).groups[0].comparisons
    assert cmp.kind == "helps" and cmp.flags == []


# ---------------------------------------------------------------- solve rates


def test_exact_solve_rate_interval():
    lo, hi = stats.solve_rate(2, 5)
    # Clopper-Pearson from the beta distribution
    assert (lo, hi) == pytest.approx((sps.beta.ppf(0.025, 2, 4), sps.beta.ppf(0.975, 3, 3)))
    assert stats.solve_rate(5, 5)[1] == 1.0 and stats.solve_rate(0, 5)[0] == 0.0
    assert stats.paired_solve_test([True] * 5, [False] * 5) == (5, 0, pytest.approx(0.0625))
    assert stats.paired_solve_test([True, False], [True, False]) == (0, 0, 1.0)


def test_solve_test_gives_the_verdict_when_pairs_did_not_learn(tmp_path):
    # the baseline never beats the trivial predictor, the treatment always does: no usable
    # pair for the difference, but 8 of 8 discordant pairs one way (exact p = 2/256)
    metric = "test/mse_over_baseline"
    paired_runs(tmp_path, [1.02] * 8, [-1.0] * 8, metric=metric)
    (cmp,) = build(tmp_path, metric=metric).groups[0].comparisons
    assert cmp.usable == [] and cmp.solve.solved == 8 and cmp.solve.solved_base == 0
    assert cmp.solve.p == pytest.approx(2 / 256)
    assert cmp.kind == "helps" and "solved 8/8 vs 0/8" in cmp.verdict


# ---------------------------------------------------------------- identical arms


def test_identical_arms_are_reported_and_kept_out_of_the_family(tmp_path):
    for s in range(5):
        acc = 0.8 + 0.01 * s
        write_run(tmp_path, f"f{s}", seed=s, bias=False, acc=acc)
        write_run(tmp_path, f"t{s}", seed=s, bias=True, acc=acc + 0.03 + 0.001 * s)
        # auto resolves to the same model as false: the same metrics and params, bit for bit
        write_run(tmp_path, f"a{s}", seed=s, bias="auto", acc=acc)
    rep = build(tmp_path)
    by_value = {c.value: c for c in rep.comparisons}
    assert by_value[True].kind == "helps"
    assert by_value["auto"].identical and by_value["auto"].kind == "identical"
    assert by_value["auto"].test is None
    assert rep.family_size == 1
    assert "identical runs" in report.render_markdown(rep)


def test_a_value_that_builds_another_values_model_is_one_test_not_two(tmp_path):
    # without a norm, auto keeps every bias: its runs are true's runs, bit for bit
    for s in range(5):
        acc = 0.8 + 0.01 * s
        write_run(tmp_path, f"f{s}", seed=s, bias=False, acc=acc)
        write_run(tmp_path, f"t{s}", seed=s, bias=True, acc=acc + 0.01 + 0.004 * (s % 2))
        auto = write_run(tmp_path, f"a{s}", seed=s, bias="auto", acc=acc + 0.01 + 0.004 * (s % 2))
        record = json.loads(auto.read_text())
        record["params"] = json.loads((tmp_path / f"t{s}" / "results.json").read_text())["params"]
        write_results(auto.parent, record)
    rep = build(tmp_path)
    by_value = {c.value: c for c in rep.comparisons}
    assert rep.family_size == 1  # true's test only: Holm's m is not inflated by the twin
    assert by_value["auto"].twin is by_value[True]
    assert by_value["auto"].kind == by_value[True].kind == "helps"
    assert by_value[True].p_holm == by_value[True].test.p
    assert by_value["auto"].verdict.startswith(
        "the same runs as `true` (every metric bit-identical), so its verdict, not tested again"
    )
    # a value that differs in any run is tested on its own
    write_run(tmp_path, "a4", seed=4, bias="auto", acc=0.84 + 0.0101)
    rep = build(tmp_path)
    assert rep.family_size == 2 and all(c.twin is None for c in rep.comparisons)


# ---------------------------------------------------------------- sources


def _sweep(root: Path, gain: float, task: str) -> None:
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text(
        f"hydra:\n  overrides:\n    task:\n    - task_name={task}\n"
    )
    paired_runs(root, [0.7, 0.72, 0.71, 0.69, 0.7], [gain] * 4 + [gain + 0.001])


def test_mixed_sweeps_are_refused_and_pool_accepts_them(tmp_path, capsys):
    _sweep(tmp_path / "a", 0.03, "a")
    _sweep(tmp_path / "b", -0.03, "b")
    assert report.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mixes runs from 2 sweeps" in err[0] and "--pool" in err[0]
    # one sweep alone is fine
    assert report.main([str(tmp_path / "a"), "--out", str(tmp_path / "out")]) == 0
    assert report.main([str(tmp_path), "--pool", "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "report.md").read_text()
    sources = md.split("## Sources")[1].split("##")[0]
    assert f"`{tmp_path / 'a'}`: 10 runs read; used 5 seeds" in sources
    assert f"`{tmp_path / 'b'}`: 10 runs read; used 5 seeds" in sources
    assert "Pooled with `--pool`" in sources


def test_duplicate_config_and_seed_is_refused(tmp_path):
    paired_runs(tmp_path, [0.7] * 3, [0.03] * 3)
    write_run(tmp_path, "again", seed=1, bias=True, acc=0.74)
    with pytest.raises(ValueError, match="seed 1 was run 2 times.*--pool"):
        build(tmp_path)
    (cmp,) = build(tmp_path, pool=True).groups[0].comparisons
    assert cmp.n_pairs == 3


# ---------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "args, words",
    [
        (["--margin", "-1"], "--margin -1: must be a positive number"),
        (["--margin", "wide"], "--margin wide: must be a positive number"),
        (["--classes", "1"], "--classes 1: must be a whole number ≥ 2"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(tmp_path, capsys, args, words):
    paired_runs(tmp_path, [0.7] * 3, [0.03] * 3)
    assert report.main([str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {words}" + err[0].split(words, 1)[1]]


def test_no_usable_run_exits_non_zero(tmp_path):
    write_run(tmp_path, "x", seed=0, bias=True, status="failed", metrics={})
    assert report.main([str(tmp_path)]) == 1


# ---------------------------------------------------------------- W&B


def test_log_wandb_writes_a_report_run_readable_offline(tmp_path, monkeypatch):
    from tests.wandb_records import records, run_contents

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    paired_runs(tmp_path / "runs", [0.7, 0.72, 0.71, 0.69, 0.7], [0.03, 0.031, 0.029, 0.03, 0.032])
    out = tmp_path / "out"
    assert report.main([str(tmp_path / "runs"), "--out", str(out), "--log-wandb"]) == 0
    (run_file,) = out.glob("wandb/offline-run-*/run-*.wandb")
    # W&B's service may still be writing the file after finish() returned: wait for its exit
    deadline = time.monotonic() + 30
    while not any(r.WhichOneof("record_type") == "exit" for r in records(run_file)):
        assert time.monotonic() < deadline, "the offline run file never got its exit record"
        time.sleep(0.2)
    kinds = {r.WhichOneof("record_type"): r for r in records(run_file)}
    assert kinds["run"].run.job_type == "report"
    config = {i.key: json.loads(i.value_json) for i in kinds["run"].run.config.update}
    assert config["compare"] == "model.bias" and config["family_size"] == 1
    _, summary = run_contents(run_file)
    assert summary["verdict/all runs/true"] == "helps"
    assert summary["verdicts/_type"] == "table-file" and summary["verdicts/nrows"] == 1
    assert summary["verdicts/ncols"] == len(report.wandb_log.COLUMNS)
    assert summary["plots/difference/_type"] == "image-file"


def test_chance_level_comes_from_the_recorded_number_of_classes():
    from biaslab.report.learned import classes_of, why_not_learned
    from biaslab.report.load import from_record

    record = {
        "status": "completed",
        "config": {"data": {"_target_": "elsewhere.NotImportable"}, "seed": 0},
        "metrics": {"test/acc": 0.26},
        "data": {"task": "classification", "num_classes": 4},
    }
    run = from_record(record, "r.json")
    classes = classes_of(run, {})
    assert classes == 4  # read from the record: nothing imported
    assert "chance" in why_not_learned(run, "test/acc", classes)


def test_a_run_records_its_data_task_and_classes(make_cfg, tmp_path):
    import json

    from biaslab.run.train import train

    train(make_cfg("trainer.max_steps=5", "trainer.val_check_interval=5"))
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["data"] == {"task": "classification", "num_classes": 10}
