"""The procedure's error rates by simulation: paired runs generated per seed, looked at after
every batch exactly as a study looks (failed pairs left out by the plan's rule, the cell
stopped at its first decision), many replicates at once. Used by the tests (seconds) and by
scripts/study_validity.py (docs/study-validity.md)."""

from __future__ import annotations

import numpy as np

from biaslab.study.sequential import failure_log_evidence, radius_factor

BASE, CHANCE, FAIL_AT_MOST = 0.80, 0.10, 0.15  # accuracies of a run that learns / fails


def runs(
    rng: np.random.Generator, reps: int, n: int, mu: float, sd: float, shape: str, p_fail=(0, 0)
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracies of the two arms, (reps, n) each: a per-seed effect shared by the pair, the
    arm's own noise of shape normal | t3 (heavy-tailed, same SD), the first arm ``mu`` higher;
    a run fails (ends at chance) with its arm's probability in ``p_fail``."""
    noise = {
        "normal": lambda: rng.standard_normal((reps, n)),
        "t3": lambda: rng.standard_t(3, (reps, n)) / np.sqrt(3.0),
    }[shape]
    shared = rng.standard_normal((reps, n)) * sd
    a = BASE + mu + shared + noise() * sd / np.sqrt(2)
    b = BASE + shared + noise() * sd / np.sqrt(2)
    for x, p in ((a, p_fail[0]), (b, p_fail[1])):
        dead = rng.random((reps, n)) < p
        x[dead] = CHANCE + 0.01 * rng.standard_normal(dead.sum())
    return a, b


def decisions(
    a: np.ndarray,
    b: np.ndarray,
    batch: int,
    alpha: float,
    delta: float,
    c2: float,
    rule: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replicate: the first decision (0 none, 1 helps, 2 hurts, 3 equivalent), the look
    index that made it (-1: none), and the interval's cover of ``truth`` is left to the
    caller via (lo, hi) per look: returns (decision, look, bounds[reps, looks, 2])."""
    keep = ~((a <= FAIL_AT_MOST) | (b <= FAIL_AT_MOST)) if rule else np.ones(a.shape, bool)
    d = np.where(keep, a - b, 0.0)
    w = keep.astype(float)
    looks = a.shape[1] // batch
    idx = np.arange(1, looks + 1) * batch - 1
    n = np.cumsum(w, axis=1)[:, idx]
    s = np.cumsum(d, axis=1)[:, idx]
    q = np.cumsum(d * d, axis=1)[:, idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        ss = np.maximum(q - n * mean * mean, 0.0)
        factor = radius_factor(n.astype(int), alpha, c2)
        r = np.where(np.isfinite(factor), factor * np.sqrt(ss), np.inf)
    lo, hi = mean - r, mean + r
    code = np.where(lo > 0, 1, np.where(hi < 0, 2, np.where((lo > -delta) & (hi < delta), 3, 0)))
    code = np.where(n >= 2, code, 0)
    first = np.where((code > 0).any(axis=1), (code > 0).argmax(axis=1), -1)
    rows = np.arange(len(code))
    decision = np.where(first >= 0, code[rows, np.maximum(first, 0)], 0)
    return decision, first, np.stack([lo, hi], axis=2)


def failure_errors(a: np.ndarray, b: np.ndarray, batch: int, alpha: float) -> np.ndarray:
    """Per replicate: whether the sequential exact test of failure rates ever rejected."""
    fa, fb = a <= FAIL_AT_MOST, b <= FAIL_AT_MOST
    idx = np.arange(1, a.shape[1] // batch + 1) * batch - 1
    first = np.cumsum(fa & ~fb, axis=1)[:, idx]
    second = np.cumsum(fb & ~fa, axis=1)[:, idx]
    ev = np.vectorize(failure_log_evidence)(first, second)
    return (ev >= np.log(1 / alpha)).any(axis=1)


def plugin_normal_mixture(
    a: np.ndarray, b: np.ndarray, batch: int, alpha: float, rho: float = 1.0
) -> np.ndarray:
    """Reference only, the boundary the plan must not use: Robbins' normal mixture (two-sided,
    Howard et al. 2021) with the sample SD plugged in for sigma. Per replicate: whether it
    ever excluded the true mean 0 (call it with mu = 0, failures off)."""
    d = a - b
    idx = np.arange(1, a.shape[1] // batch + 1) * batch - 1
    n = idx + 1.0
    s = np.cumsum(d, axis=1)[:, idx]
    q = np.cumsum(d * d, axis=1)[:, idx]
    sd = np.sqrt(np.maximum(q - s * s / n, 0.0) / (n - 1))
    bound = sd * np.sqrt((n + rho) * np.log((n + rho) / (rho * alpha**2)))
    return (np.abs(s) > bound).any(axis=1)
