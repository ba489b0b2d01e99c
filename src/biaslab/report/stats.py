"""Paired statistics for two arms run with the same seeds.

Runs of the two arms that share a seed share data order and (mostly) initialization, so the
per-seed difference removes that shared noise: a paired t-test is the right test, and needs far
fewer seeds than comparing the two means independently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

METHOD = (
    "two-sided paired t-test (scipy.stats.ttest_rel) on the per-seed differences, "
    "with a 95% confidence interval from the t-distribution (n-1 degrees of freedom)"
)


@dataclass(frozen=True)
class PairedTest:
    """``treatment - baseline`` over ``n`` paired seeds."""

    n: int
    diff: float  # mean of the per-seed differences
    ci_low: float
    ci_high: float
    p: float


def paired_test(
    treatment: Sequence[float], baseline: Sequence[float], confidence: float = 0.95
) -> PairedTest:
    """Two-sided paired t-test of ``treatment - baseline`` with a t confidence interval.

    Needs at least 2 pairs. When every difference is identical the t statistic is undefined
    (zero variance); scipy returns nan, so the exact answer is given instead: p=1 and a
    zero-width interval at 0 when the arms agree exactly, p=0 otherwise.
    """
    t_arr = np.asarray(treatment, dtype=float)
    b_arr = np.asarray(baseline, dtype=float)
    if t_arr.shape != b_arr.shape:
        raise ValueError(f"paired samples differ in length: {t_arr.shape} vs {b_arr.shape}")
    n = len(t_arr)
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {n}")
    d = t_arr - b_arr
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return PairedTest(n, mean, mean, mean, 1.0 if mean == 0.0 else 0.0)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(t_arr, b_arr).pvalue)
    return PairedTest(n, mean, mean - half, mean + half, p)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its t confidence interval (nan for a single value)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return math.nan, math.nan
    if len(arr) < 2:
        return float(arr[0]), math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, len(arr) - 1)) * arr.std(ddof=1)
    return float(arr.mean()), half / math.sqrt(len(arr))
