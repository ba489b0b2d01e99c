"""The interaction test: does the compared key's gain depend on another swept key? Known
answers from constructed runs, checked against scipy by hand."""

from __future__ import annotations

import json

import pytest
from scipy import stats as sps

from biaslab import report
from biaslab.records.results import write_results

from .helpers import build, paired_runs, write_run

BASE = [0.80, 0.82, 0.81, 0.79, 0.83, 0.80]
GAIN_NARROW = [0.060, 0.055, 0.070, 0.065, 0.058, 0.062]  # width 8
GAIN_WIDE = [0.010, 0.004, 0.012, 0.008, 0.006, 0.011]  # width 64


def test_gain_shrinking_with_width_is_an_interaction(tmp_path):
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    paired_runs(tmp_path, BASE, GAIN_WIDE, width=64)
    rep = build(tmp_path, interaction_key="model.width=8", classes=10)
    (it,) = rep.interactions
    assert (it.level, it.reference, it.context) == (64, 8, "all runs")
    want = [w - n for w, n in zip(GAIN_WIDE, GAIN_NARROW, strict=True)]
    assert [it.diffs[s] for s in range(6)] == pytest.approx(want)
    assert it.test.p == pytest.approx(sps.ttest_1samp(want, 0).pvalue)
    assert it.test.diff == pytest.approx(sum(want) / 6)
    assert it.kind == "smaller" and it.p_holm == it.test.p  # a family of one
    assert it.verdict.startswith(
        "the effect of `bias` is less favourable at `model.width=64` than at `8`: -5.3 pts"
    )
    md = report.render_markdown(rep)
    assert "## Interaction with `model.width`" in md
    assert f"- **all runs**, `model.width=64` − `8`: {it.verdict}" in md


def test_the_same_gain_at_both_levels_is_equivalence_not_silence(tmp_path):
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    jitter = [0.001, -0.001, 0.0005, -0.0005, 0.001, 0.0]
    same = [g + d for g, d in zip(GAIN_NARROW, jitter, strict=True)]
    paired_runs(tmp_path, BASE, same, width=64)
    (it,) = build(tmp_path, interaction_key="model.width", classes=10).interactions
    assert it.reference == 8  # no REF: the first value, as --baseline chooses
    assert it.kind == "same" and "the same gain" in it.verdict and "±1 pt" in it.verdict


def test_the_same_gain_is_corrected_over_the_equivalence_tests(tmp_path):
    # at widths 16 and 64 a gain 0.4 pts from width 8's, each TOST p = 0.034 on its own
    close = [0.012, -0.002, 0.010, -0.004, 0.004, 0.004]
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    gains = [g + c for g, c in zip(GAIN_NARROW, close, strict=True)]
    for width in (16, 64):
        paired_runs(tmp_path, BASE, gains, width=width)
    rep = build(tmp_path, interaction_key="model.width=8", classes=10)
    for it in rep.interactions:
        assert it.equivalence.equivalent and it.equivalence.p < 0.05
        assert it.equivalence.p_holm == pytest.approx(min(1.0, 2 * it.equivalence.p))
        assert it.kind == "inconclusive" and "but not after Holm over the 2" in it.verdict
    assert "Holm-corrected over the 2 equivalence tests" in report.render_markdown(rep)


def test_levels_are_corrected_as_one_family(tmp_path):
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    paired_runs(tmp_path, BASE, GAIN_WIDE, width=64)
    paired_runs(tmp_path, BASE, [g + 0.004 for g in GAIN_NARROW], width=16)
    rep = build(tmp_path, interaction_key="model.width=8", classes=10)
    by_level = {it.level: it for it in rep.interactions}
    assert set(by_level) == {16, 64}
    raw = sorted(it.test.p for it in rep.interactions)
    holm = sorted(it.p_holm for it in rep.interactions)
    assert holm[0] == pytest.approx(min(1.0, 2 * raw[0]))
    assert holm[1] == pytest.approx(max(holm[0], raw[1]))


def test_a_key_that_was_not_swept_is_refused(tmp_path, capsys):
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    paired_runs(tmp_path, BASE, GAIN_WIDE, width=64)
    code = report.main([str(tmp_path), "--interaction", "data.shift", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--interaction data.shift: must be a swept key the report groups by" in err
    assert "model.width" in err
    code = report.main([str(tmp_path), "--interaction", "model.width=32"])
    err = capsys.readouterr().err
    assert code == 2 and "the reference is not among its values (8, 64)" in err


def test_an_effect_that_hurts_less_is_not_called_helping(tmp_path):
    paired_runs(tmp_path, BASE, [-g for g in GAIN_NARROW], width=8)
    paired_runs(tmp_path, BASE, [-g for g in GAIN_WIDE], width=64)
    (it,) = build(tmp_path, interaction_key="model.width=8", classes=10).interactions
    assert it.kind == "larger" and "helps" not in it.verdict
    assert it.verdict.startswith("the effect of `bias` is more favourable at `model.width=64`")


def twin_runs(root, width: int, gains_true, auto_is_true: bool):
    """bias=false, true and auto per seed; auto's runs are true's (no norm) or false's."""
    for s, (b, g) in enumerate(zip(BASE, gains_true, strict=True)):
        false = write_run(root, f"w{width}_s{s}_f", seed=s, bias=False, width=width, acc=b)
        true = write_run(root, f"w{width}_s{s}_t", seed=s, bias=True, width=width, acc=b + g)
        auto = write_run(
            root, f"w{width}_s{s}_a", seed=s, bias="auto", width=width, acc=b + g * auto_is_true
        )
        record = json.loads(auto.read_text())
        record["params"] = json.loads((true if auto_is_true else false).read_text())["params"]
        write_results(auto.parent, record)


@pytest.mark.parametrize("reference", [8, 64])
def test_a_twin_is_tested_where_it_is_not_the_same_runs_at_both_levels(tmp_path, reference):
    # auto = true at width 8, auto = false at width 64: auto's interaction is its own
    twin_runs(tmp_path, 8, GAIN_NARROW, auto_is_true=True)
    twin_runs(tmp_path, 64, GAIN_WIDE, auto_is_true=False)
    rep = build(tmp_path, interaction_key=f"model.width={reference}", classes=10)
    by_value = {it.label: it for it in rep.interactions}
    assert set(by_value) == {"bias", "bias=auto"}
    sign = 1 if reference == 8 else -1  # the gain at the other level minus at the reference
    assert by_value["bias=auto"].test.diff == pytest.approx(sign * -sum(GAIN_NARROW) / 6)
    assert by_value["bias"].test.diff == pytest.approx(
        sign * (sum(GAIN_WIDE) - sum(GAIN_NARROW)) / 6
    )


def test_a_twin_at_both_levels_is_one_interaction_not_two(tmp_path):
    twin_runs(tmp_path, 8, GAIN_NARROW, auto_is_true=True)
    twin_runs(tmp_path, 64, GAIN_WIDE, auto_is_true=True)
    (it,) = build(tmp_path, interaction_key="model.width", classes=10).interactions
    assert it.label == "bias" and it.p_holm == it.test.p


def test_what_could_not_be_tested_is_said(tmp_path):
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    for s, b in enumerate(BASE):  # width 64 ran bias=false only
        write_run(tmp_path, f"w64_s{s}_f", seed=s, bias=False, width=64, acc=b)
    rep = build(tmp_path, interaction_key="model.width=64", classes=10)
    assert rep.interactions == []
    md = report.render_markdown(rep)
    assert "## Interaction with `model.width`\n\nNothing to test:" in md
    assert "`true` only at `model.width=8`, not at `64`" in md


def test_the_tuned_key_cannot_be_the_interaction(tmp_path):
    for lr in (0.01, 0.03):
        for s, (b, g) in enumerate(zip(BASE, GAIN_NARROW, strict=True)):
            for bias, acc in ((False, b), (True, b + g)):
                write_run(
                    tmp_path,
                    f"lr{lr}_s{s}_{bias}",
                    seed=s,
                    bias=bias,
                    acc=acc,
                    metrics={"test/acc": acc, "val/acc_best": acc, "train/loss": 0.3},
                    extra={"optimizer": {"lr": lr}},
                )
    with pytest.raises(ValueError, match="--interaction optimizer.lr: the key tuned by --select"):
        build(
            tmp_path,
            select_key="optimizer.lr",
            by="val/acc_best",
            interaction_key="optimizer.lr",
            classes=10,
        )


def test_an_inconclusive_interaction_says_its_interval_is_not_inside_the_margin(tmp_path):
    """An interval that straddles 0 and reaches past the margin is not "outside" it."""
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    noisy = [
        g + d for g, d in zip(GAIN_NARROW, [0.03, -0.02, 0.01, -0.03, 0.02, -0.004], strict=True)
    ]
    paired_runs(tmp_path, BASE, noisy, width=64)
    (it,) = build(tmp_path, interaction_key="model.width=8", classes=10).interactions
    eq = it.equivalence
    assert it.kind == "inconclusive" and eq.ci_low < 0 < eq.ci_high
    assert "not inside ±1 pt" in it.verdict and "outside" not in it.verdict


def test_an_interaction_carries_the_signed_rank_check(tmp_path):
    """Six seeds all one way: Wilcoxon agrees (p=2/64). Five: the signed-rank test cannot
    reject at all (its smallest p with 5 pairs is 0.0625), which is said, not called a
    disagreement. Six with one seed the other way: it does not agree."""
    paired_runs(tmp_path, BASE, GAIN_NARROW, width=8)
    paired_runs(tmp_path, BASE, GAIN_WIDE, width=64)
    (it,) = build(tmp_path, interaction_key="model.width=8", classes=10).interactions
    assert it.wilcoxon_p == pytest.approx(2 / 64)
    assert "Wilcoxon signed-rank p=0.031" in it.verdict and "does not agree" not in it.verdict
    five = tmp_path / "five"
    paired_runs(five, BASE[:5], GAIN_NARROW[:5], width=8)
    paired_runs(five, BASE[:5], GAIN_WIDE[:5], width=64)
    (it,) = build(five, interaction_key="model.width=8", classes=10).interactions
    assert it.p_holm < 0.05 and it.wilcoxon_p == pytest.approx(0.0625)
    assert (
        "Wilcoxon signed-rank p=0.062 (the smallest possible with 5 pairs is 0.062)" in it.verdict
    )
    mixed = tmp_path / "mixed"
    paired_runs(mixed, BASE, GAIN_NARROW, width=8)
    paired_runs(mixed, BASE, [*GAIN_WIDE[:5], 0.075], width=64)
    (it,) = build(mixed, interaction_key="model.width=8", classes=10).interactions
    assert it.p_holm < 0.05 and it.wilcoxon_p >= 0.05
    assert "(does not agree that it differs from 0)" in it.verdict
