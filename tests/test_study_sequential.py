"""The sequential procedure's error rates, by simulation, under monitoring after every batch of
3 seeds up to 30: "helps/hurts" when the true difference is 0 and "equivalent" when it sits at
the margin must each happen at most alpha of the time, on normal, heavy-tailed (t3) and bimodal
(some runs fail) paired runs. The plug-in normal-mixture boundary is simulated alike and errs
well above alpha, which shows these simulations can fail."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biaslab.study import sequential as seq
from biaslab.study import simulate as sim

ALPHA, DELTA, SD, BATCH, CAP, REPS = 0.05, 0.01, 0.017, 3, 30, 4000
C2 = seq.best_c2(CAP, ALPHA)
SHAPES = [("normal", (0, 0)), ("t3", (0, 0)), ("normal", (0.2, 0.2)), ("t3", (0.25, 0.25))]


@pytest.mark.parametrize("shape,p_fail", SHAPES)
def test_helps_or_hurts_at_most_alpha_when_no_difference(shape, p_fail):
    rng = np.random.default_rng(11)
    a, b = sim.runs(rng, REPS, CAP, 0.0, SD, shape, p_fail)
    decision, _, _ = sim.decisions(a, b, BATCH, ALPHA, DELTA, C2)
    rate = np.isin(decision, [1, 2]).mean()
    assert rate <= ALPHA, rate


@pytest.mark.parametrize("shape,p_fail", SHAPES)
@pytest.mark.parametrize("mu", [DELTA, -DELTA])
def test_equivalent_at_most_alpha_at_the_margin(shape, p_fail, mu):
    rng = np.random.default_rng(12)
    a, b = sim.runs(rng, REPS, CAP, mu, SD, shape, p_fail)
    decision, _, _ = sim.decisions(a, b, BATCH, ALPHA, DELTA, C2)
    assert (decision == 3).mean() <= ALPHA


def test_failure_rate_test_at_most_alpha_when_rates_equal():
    rng = np.random.default_rng(13)
    a, b = sim.runs(rng, REPS, CAP, 0.0, SD, "normal", (0.3, 0.3))
    assert sim.failure_errors(a, b, BATCH, ALPHA).mean() <= ALPHA


def test_failure_rate_test_sees_a_large_difference():
    rng = np.random.default_rng(14)
    a, b = sim.runs(rng, 500, CAP, 0.0, SD, "normal", (0.6, 0.05))
    assert sim.failure_errors(a, b, BATCH, ALPHA).mean() > 0.8


def test_plugin_normal_mixture_errs_above_alpha():
    """The boundary the plan rules out, simulated the same way: these tests can fail."""
    rng = np.random.default_rng(15)
    a, b = sim.runs(rng, REPS, CAP, 0.0, SD, "normal")
    rate = sim.plugin_normal_mixture(a, b, BATCH, ALPHA).mean()
    assert rate > 2 * ALPHA, rate


def test_decides_when_the_effect_is_large_or_absent():
    rng = np.random.default_rng(16)
    a, b = sim.runs(rng, 500, CAP, 0.03, SD, "normal")
    decision, look, _ = sim.decisions(a, b, BATCH, ALPHA, DELTA, C2)
    assert (decision == 1).mean() > 0.9 and np.median(look) < 9
    a, b = sim.runs(rng, 500, CAP, 0.0, 0.004, "normal")
    decision, _, _ = sim.decisions(a, b, BATCH, ALPHA, DELTA, C2)
    assert (decision == 3).mean() > 0.9


def test_vectorized_decisions_match_the_study_looks():
    """The simulation judges exactly what a study's cell does (sequential.looks)."""
    rng = np.random.default_rng(17)
    a, b = sim.runs(rng, 60, CAP, 0.008, SD, "t3", (0.2, 0.1))
    decision, look, _ = sim.decisions(a, b, BATCH, ALPHA, DELTA, C2)
    code = {"inconclusive": 0, "helps": 1, "hurts": 2, "equivalent": 3}
    for i in range(len(a)):
        keep = (a[i] > sim.FAIL_AT_MOST) & (b[i] > sim.FAIL_AT_MOST)
        batches = [(a[i] - b[i])[j : j + BATCH][keep[j : j + BATCH]] for j in range(0, CAP, BATCH)]
        looks = seq.looks(batches, ALPHA, DELTA, C2)
        assert code[looks[-1].verdict] == decision[i]
        assert (looks[-1].k - 1 if decision[i] else -1) == look[i]


def test_interval_inverts_the_evidence():
    x = np.random.default_rng(18).normal(0.3, 1.0, 20)
    lo, hi = seq.interval(x, ALPHA, 2.0)
    for edge in (lo, hi):
        assert seq.log_evidence(x, edge, 2.0) == pytest.approx(math.log(1 / ALPHA))
    assert seq.log_evidence(x, (lo + hi) / 2, 2.0) < math.log(1 / ALPHA)
    assert seq.log_evidence(x[:1], 5.0, 2.0) == pytest.approx(0.0)  # G_1 = 1


def test_anytime_p_value_is_the_running_maximum():
    batches = [np.array([0.02, 0.03, 0.025]), np.array([0.03, 0.02, 0.028])]
    looks = seq.looks(batches, 0.01, 0.001, 1.0)
    g = [seq.log_evidence(np.concatenate(batches[:k]), 0.0, 1.0) for k in (1, 2)]
    assert looks[-1].p_value == pytest.approx(min(1.0, math.exp(-max(0.0, *g))))


def test_identical_differences_are_no_interval_before_the_sequence_can_close():
    """n too small for any finite interval: the whole line, not NaN, even with no spread."""
    assert seq.interval(np.zeros(2), 0.01, 0.5) == (-math.inf, math.inf)
    assert seq.looks([np.zeros(2)], 0.01, 0.01, 0.5)[-1].verdict == "inconclusive"
