"""The interaction test: does the compared key's gain depend on another swept key? Known
answers from constructed runs, checked against scipy by hand."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from biaslab import report
from tests.test_report_v2 import build, paired_runs

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
    assert it.verdict.startswith("`bias` helps less at `model.width=64` than at `8`: -5.3 pts")
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
