"""Paired statistics against answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from biaslab.report.stats import mean_ci, paired_test


def test_paired_test_matches_hand_computation():
    # Differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3), t = 2*sqrt(3), 2 degrees of freedom.
    # With 2 df the t-distribution has a closed form: two-sided p = 1 - t/sqrt(2 + t^2)
    # = 1 - sqrt(6/7), and the 97.5% quantile is (2q-1)/sqrt(2q(1-q)) at q = 0.975.
    baseline = [0.5, 0.7, 0.6]
    treatment = [1.5, 2.7, 3.6]
    result = paired_test(treatment, baseline)
    t_crit = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert result.n == 3
    assert result.diff == pytest.approx(2.0)
    assert result.p == pytest.approx(1 - math.sqrt(6 / 7), rel=1e-9)
    assert result.ci_low == pytest.approx(2 - t_crit / math.sqrt(3), rel=1e-9)
    assert result.ci_high == pytest.approx(2 + t_crit / math.sqrt(3), rel=1e-9)


def test_paired_test_agrees_with_scipy():
    rng = np.random.default_rng(0)
    base = rng.normal(0.7, 0.02, size=8)
    treat = base + 0.01 + rng.normal(0, 0.01, size=8)
    result = paired_test(treat, base)
    ref = sps.ttest_rel(treat, base)
    assert result.p == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((ci.low, ci.high))


def test_identical_arms_give_p_one_and_a_zero_interval():
    result = paired_test([0.8, 0.9, 0.7], [0.8, 0.9, 0.7])
    assert (result.diff, result.ci_low, result.ci_high, result.p) == (0.0, 0.0, 0.0, 1.0)


def test_constant_nonzero_difference_is_significant():
    result = paired_test([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    assert result.diff == pytest.approx(1.0)
    assert result.p == 0.0


def test_paired_test_needs_two_equal_length_samples():
    with pytest.raises(ValueError, match="at least 2"):
        paired_test([1.0], [0.0])
    with pytest.raises(ValueError, match="length"):
        paired_test([1.0, 2.0], [0.0])


def test_mean_ci():
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025) / math.sqrt(3))
    mean, half = mean_ci([4.0])
    assert mean == 4.0 and math.isnan(half)
