"""Paired statistics for two arms run with the same seeds.

Runs of the two arms that share a seed share data order and (mostly) initialization, so the
per-seed difference removes that shared noise: a paired t-test is the right test, and needs far
fewer seeds than comparing the two means independently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

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


# Seeds for the bootstrap: a report rebuilt from the same runs gives the same intervals.
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 9999


def wilcoxon_p(differences: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p of the per-seed differences (exact for small n);
    1.0 when every difference is 0, where the test has nothing to rank."""
    d = np.asarray(differences, dtype=float)
    if not np.any(d != 0):
        return 1.0
    return float(stats.wilcoxon(d).pvalue)


def wilcoxon_floor(n: int) -> float:
    """The smallest two-sided p the exact signed-rank test can give with ``n`` pairs (all
    differences of one sign): with 5 pairs it is 0.0625, so it can never reject at 0.05."""
    return min(1.0, 2.0 / 2**n)


def bootstrap_ci(differences: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """BCa bootstrap interval of the mean difference (scipy.stats.bootstrap, fixed seed).
    Every difference equal: the interval is that value (no resample can differ)."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2 or np.all(d == d[0]):
        return float(d.mean()), float(d.mean())
    res = stats.bootstrap(
        (d,),
        np.mean,
        method="BCa",
        confidence_level=confidence,
        n_resamples=BOOTSTRAP_RESAMPLES,
        random_state=np.random.default_rng(BOOTSTRAP_SEED),
    )
    ci = res.confidence_interval
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests (TOST) of ``|mean difference| < margin`` at level ``alpha``: the
    same as the (1 - 2 alpha) t interval lying inside ±margin."""

    margin: float
    ci_low: float  # the 90 % interval for alpha = 0.05
    ci_high: float
    p: float  # the larger of the two one-sided p values
    p_holm: float = math.nan  # p after Holm over the report's equivalence tests

    @property
    def equivalent(self) -> bool:
        """Before any correction: the interval inside ±margin (the same as p < alpha)."""
        return -self.margin < self.ci_low and self.ci_high < self.margin


def tost(differences: Sequence[float], margin: float, alpha: float = 0.05) -> Equivalence:
    d = np.asarray(differences, dtype=float)
    if len(d) < 2:
        raise ValueError(f"an equivalence test needs at least 2 pairs, got {len(d)}")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:  # no spread: inside the margin or not, with certainty
        return Equivalence(margin, mean, mean, 0.0 if abs(mean) < margin else 1.0)
    half = float(stats.t.ppf(1 - alpha, len(d) - 1)) * sd / math.sqrt(len(d))
    p_low = float(stats.ttest_1samp(d, -margin, alternative="greater").pvalue)
    p_high = float(stats.ttest_1samp(d, margin, alternative="less").pvalue)
    return Equivalence(margin, mean - half, mean + half, max(p_low, p_high))


def tost_power(n: int, sd: float, margin: float, diff: float, alpha: float = 0.05) -> float:
    """Power of the paired TOST within ±``margin`` with ``n`` pairs when the true mean
    difference is ``diff`` and the paired SD ``sd``: each one-sided t-test's rejection
    probability from the noncentral t, combined as P(low) + P(high) − 1 (the usual lower
    bound; close to exact once the power is high, and 0 below it)."""
    df = n - 1
    crit = float(stats.t.ppf(1 - alpha, df))
    scale = math.sqrt(n) / sd
    low = float(stats.nct.sf(crit, df, (diff + margin) * scale))
    high = float(stats.nct.sf(crit, df, (margin - diff) * scale))
    return max(0.0, low + high - 1.0)


SEEDS_LIMIT = 10_000  # past this a seed count is no plan


def seeds_needed(
    sd: float,
    margin: float,
    diff: float,
    power: float = 0.8,
    limit: int = SEEDS_LIMIT,
    alpha: float = 0.05,
) -> int | None:
    """Pairs a paired TOST within ±``margin`` needs for ``power`` at ``alpha`` if the true
    difference is ``diff`` (the report passes the observed one); None when
    |diff| ≥ margin (no number of seeds shows equivalence then) or beyond ``limit``."""
    if abs(diff) >= margin or tost_power(limit, sd, margin, diff, alpha) < power:
        return None
    lo, hi = 2, limit
    while lo < hi:  # the smallest n with enough power (power rises with n)
        mid = (lo + hi) // 2
        if tost_power(mid, sd, margin, diff, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p values, in the input's order (scipy has Benjamini-Hochberg
    but not Holm). The i-th smallest p is multiplied by (m - i), and the adjusted values are
    made non-decreasing in that order, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def holm_equivalences(tests: Sequence[Equivalence]) -> list[Equivalence]:
    """The same equivalence tests with Holm-adjusted p values, as one family."""
    adjusted = holm([eq.p for eq in tests])
    return [replace(eq, p_holm=adj) for eq, adj in zip(tests, adjusted, strict=True)]


def solve_rate(solved: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a solve rate of ``solved`` out of ``n``."""
    ci = stats.binomtest(solved, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def paired_solve_test(
    treatment: Sequence[bool], baseline: Sequence[bool]
) -> tuple[int, int, float]:
    """Exact McNemar test (a sign test on the discordant pairs): (pairs solved by the treatment
    only, pairs solved by the baseline only, two-sided p). No discordant pair: p = 1."""
    only_t = sum(t and not b for t, b in zip(treatment, baseline, strict=True))
    only_b = sum(b and not t for t, b in zip(treatment, baseline, strict=True))
    if only_t + only_b == 0:
        return 0, 0, 1.0
    return only_t, only_b, float(stats.binomtest(only_t, only_t + only_b, 0.5).pvalue)
