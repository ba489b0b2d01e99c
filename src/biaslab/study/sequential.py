"""The sequential procedure: a confidence sequence for the mean of a cell's paired differences,
valid when it is looked at after every batch of seeds, with the variance unknown.

The evidence against a mean ``mu`` after n differences is the scale-invariant t-test martingale
of Wang & Ramdas (2025, "Anytime-valid t-tests and confidence sequences for Gaussian means with
unknown variance", Theorem 4.9): Lai's (1976) construction with a N(0, 1/c²) mixture over the
standardized mean mu/sigma,

    G_n(mu) = sqrt(c² / (n + c²)) * ((n + c²) V / ((n + c²) V - S²)) ** (n / 2),
    S = sum(x_i - mu),  V = sum((x_i - mu)²).

G_1 = 1 and (G_n) is a nonnegative martingale under any Gaussian law with mean mu, whatever its
variance, so by Ville's inequality P(exists n: G_n(mu) >= 1/alpha) <= alpha. Its inversion,
{mu: G_n(mu) < 1/alpha}, is the interval mean ± radius below: a confidence sequence, correct at
every n at once, hence at whatever n the study stops. 1 / max_n G_n(0) is an anytime-valid
p-value. Nothing is plugged in for sigma (a normal-mixture boundary with a plug-in sigma errs far
above alpha when looked at every few seeds; tests/test_study_sequential.py shows both).

Failure rates per arm: among the pairs where exactly one arm failed, which arm failed is a fair
coin when the rates are equal; a uniform-prior Bayes factor against p = 1/2 is a nonnegative
martingale on that sequence (exact, no normal approximation), so the same Ville bound applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

VERDICTS = ("helps", "hurts", "equivalent", "inconclusive")


def radius_factor(n: int | np.ndarray, alpha: float, c2: float) -> np.ndarray:
    """The confidence sequence's half-width over sqrt(sum of squared deviations) after n
    differences (inf where the sequence is still the whole line)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # G_n(mu) < 1/alpha  <=>  S²/V < q, with S = n(mean - mu), V = SS + n(mean - mu)²
        a = ((n + c2) / c2) ** (1 / n) * alpha ** (-2 / n)
        q = (n + c2) * (1 - 1 / a)
        out = np.sqrt(q / (n * (n - q)))
    return np.where((n >= 2) & (q < n), out, np.inf)


def best_c2(n: int, alpha: float) -> float:
    """The mixture precision c² that makes the sequence narrowest at n differences (a plan
    fixes n, its cap, before any run, so this choice is pre-declared and deterministic)."""

    def width(log_c2: float) -> float:
        r = float(radius_factor(n, alpha, math.exp(log_c2)))
        return r if math.isfinite(r) else 1e9

    res = optimize.minimize_scalar(width, bounds=(-8.0, 8.0), method="bounded")
    return float(round(math.exp(res.x), 6))


def log_evidence(x: np.ndarray, mu: float, c2: float) -> float:
    """log G_n(mu) for the differences ``x`` (n >= 1)."""
    x = np.asarray(x, dtype=float) - mu
    n = len(x)
    s, v = float(x.sum()), float((x * x).sum())
    if v == 0.0:  # every difference equals mu exactly: no evidence against it
        return 0.5 * math.log(c2 / (n + c2))
    denom = (n + c2) * v - s * s
    return 0.5 * math.log(c2 / (n + c2)) + 0.5 * n * math.log((n + c2) * v / denom)


def equivalence_p(batches: list[np.ndarray], delta: float, c2: float) -> float:
    """An anytime-valid p-value for "equivalent within ±delta": the larger of the evidence
    against +delta and against -delta, 1 / max over looks of G(±delta). Each margin counts only
    at looks whose mean lies on the inside of it (G(+delta) is evidence against mean = +delta
    either way; a sample far above +delta must not count against "mean >= +delta"). At one
    look, p < alpha exactly when :func:`interval` at alpha lies inside (-delta, +delta); under
    any mean at or beyond a margin, P(p <= alpha at some look) <= alpha, since the confidence
    sequence then missed that mean."""
    best_hi = best_lo = 0.0  # max log G(+delta), log G(-delta) over the looks that count
    seen = np.empty(0)
    for batch in batches:
        seen = np.concatenate([seen, np.asarray(batch, dtype=float)])
        if len(seen) < 2:  # one difference: the sequence is still the whole line
            continue
        mean = float(seen.mean())
        if mean < delta:
            best_hi = max(best_hi, log_evidence(seen, delta, c2))
        if mean > -delta:
            best_lo = max(best_lo, log_evidence(seen, -delta, c2))
    return max(min(1.0, math.exp(-best_hi)), min(1.0, math.exp(-best_lo)))


def interval(x: np.ndarray, alpha: float, c2: float) -> tuple[float, float]:
    """The confidence sequence at the differences ``x`` (mean ± radius)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 2:
        return -math.inf, math.inf
    mean = float(x.mean())
    factor = float(radius_factor(n, alpha, c2))
    if not math.isfinite(factor):  # still the whole line, even if every x is the same
        return -math.inf, math.inf
    r = factor * math.sqrt(float(((x - mean) ** 2).sum()))
    return mean - r, mean + r


def failure_log_evidence(first_only: int, second_only: int) -> float:
    """log Bayes factor (uniform prior on p against p = 1/2) over the pairs where only one arm
    failed: ``first_only`` of them the first arm, ``second_only`` the second."""
    k, n = first_only, first_only + second_only
    return float(special.betaln(k + 1, n - k + 1) + n * math.log(2.0))


@dataclass(frozen=True)
class Look:
    """One look at a cell: its n pairs, the interval, the evidence so far, the verdict."""

    k: int  # the look's number in the plan (1: after the first batch)
    n: int  # pairs in the difference (failed pairs left out)
    mean: float
    lo: float
    hi: float
    p_value: float  # anytime-valid: 1 / max over looks so far of G(0)
    verdict: str  # helps | hurts | equivalent | inconclusive


def verdict(lo: float, hi: float, delta: float) -> str:
    """helps / hurts when the interval excludes 0, equivalent when it lies inside ±delta."""
    if lo > 0:
        return "helps"
    if hi < 0:
        return "hurts"
    if -delta < lo and hi < delta:
        return "equivalent"
    return "inconclusive"


def looks(batches: list[np.ndarray], alpha: float, delta: float, c2: float) -> list[Look]:
    """Every look of a cell, one per batch of differences (oriented so that > 0 means the first
    arm does better), up to and including the first that decides it."""
    out: list[Look] = []
    best = 0.0  # max log G(0) so far
    seen = np.empty(0)
    for k, batch in enumerate(batches, start=1):
        seen = np.concatenate([seen, np.asarray(batch, dtype=float)])
        if len(seen):
            best = max(best, log_evidence(seen, 0.0, c2))
        lo, hi = interval(seen, alpha, c2)
        mean = float(seen.mean()) if len(seen) else math.nan
        p = min(1.0, math.exp(-best))
        out.append(Look(k, len(seen), mean, lo, hi, p, verdict(lo, hi, delta)))
        if out[-1].verdict != "inconclusive":
            break
    return out
