"""The study's anytime-valid equivalence p-value (sequential.equivalence_p): at one look it is
below α exactly when the confidence sequence lies inside ±δ, a sample beyond a margin gives no
evidence for equivalence, and monitored at a margin it errs at most α."""

from __future__ import annotations

import numpy as np
import pytest

from biaslab.study import sequential as seq

ALPHA, DELTA = 0.0125, 0.01
C2 = seq.best_c2(24, ALPHA)


def _inside(x: np.ndarray) -> bool:
    lo, hi = seq.interval(x, ALPHA, C2)
    return -DELTA < lo and hi < DELTA


def _sample(mean: float, sd: float, n: int) -> np.ndarray:
    z = np.random.default_rng(n).standard_normal(n)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)  # exactly this mean and sd


CASES = [  # (mean, sd, n, interval inside ±δ?)
    (0.0, 0.002, 9, True),  # narrow, centred
    (-0.002, 0.017, 24, False),  # wide: crosses both margins
    (0.008, 0.004, 9, False),  # crosses +δ only
    (-0.008, 0.004, 9, False),  # crosses -δ only
    (0.005, 0.001, 12, True),  # off centre (above 0 too), still inside
    (0.05, 0.002, 12, False),  # entirely above +δ: far from equivalent
    (-0.05, 0.002, 12, False),  # entirely below -δ
]


@pytest.mark.parametrize("mean,sd,n,inside", CASES)
def test_at_one_look_below_alpha_exactly_when_the_interval_is_inside(mean, sd, n, inside):
    x = _sample(mean, sd, n)
    assert _inside(x) is inside
    assert (seq.equivalence_p([x], DELTA, C2) < ALPHA) is inside


def test_below_alpha_exactly_when_inside_on_random_samples():
    rng = np.random.default_rng(3)
    agree = []
    for _ in range(300):
        n = int(rng.integers(3, 30))
        x = rng.normal(rng.uniform(-0.02, 0.02), rng.uniform(0.001, 0.02), n)
        agree.append((seq.equivalence_p([x], DELTA, C2) < ALPHA) == _inside(x))
    assert all(agree)


def test_a_sample_beyond_a_margin_is_no_evidence_of_equivalence():
    """G(+δ) alone is large for a sample far above +δ; counted two-sided it would make
    "equivalent" look proven."""
    x = _sample(0.05, 0.002, 12)
    assert seq.log_evidence(x, DELTA, C2) > np.log(1 / ALPHA)
    assert seq.log_evidence(x, -DELTA, C2) > np.log(1 / ALPHA)
    assert seq.equivalence_p([x], DELTA, C2) == 1.0


def test_the_deciding_look_of_an_equivalent_cell_is_below_alpha():
    batches = [_sample(0.001, 0.004, 3) for _ in range(8)]
    looks = seq.looks(batches, ALPHA, DELTA, C2)
    assert looks[-1].verdict == "equivalent"
    assert seq.equivalence_p(batches[: len(looks)], DELTA, C2) < ALPHA


@pytest.mark.parametrize("mu", [DELTA, -DELTA])
def test_monitored_at_a_margin_it_errs_at_most_alpha(mu):
    rng = np.random.default_rng(7)
    alpha, reps = 0.05, 1500
    x = rng.normal(mu, 0.017, (reps, 24))
    batches = [[x[r, i : i + 3] for i in range(0, 24, 3)] for r in range(reps)]
    rate = np.mean([seq.equivalence_p(b, DELTA, C2) <= alpha for b in batches])
    assert rate <= alpha, rate
