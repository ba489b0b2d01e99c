"""The study procedure's error rates and coverage by simulation, larger than the test suite's:
writes docs/study-validity.md (a table) and docs/study-validity.png (coverage vs n).

    PYTHONPATH=src python scripts/study_validity.py [--reps 20000]

Paired runs per seed (biaslab.study.simulate): a shared per-seed effect, the arm's own noise
(normal or t3 with the same SD), runs that fail (end at chance) with a probability per arm.
Each replicate is looked at after every batch of 3 seeds up to the cap, exactly as a study looks.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from biaslab.study import sequential as seq  # noqa: E402
from biaslab.study import simulate as sim  # noqa: E402

ALPHA, DELTA, SD, BATCH = 0.05, 0.01, 0.017, 3
SCENARIOS = [  # name, noise, failure probability per arm
    ("normal", "normal", (0.0, 0.0)),
    ("heavy-tailed (t3)", "t3", (0.0, 0.0)),
    ("bimodal: 20 % of runs fail in each arm", "normal", (0.2, 0.2)),
    ("bimodal, t3: 45 % / 10 % fail", "t3", (0.45, 0.1)),
]


def rates(rng, reps: int, cap: int, noise: str, p_fail) -> dict[str, float]:
    c2 = seq.best_c2(cap, ALPHA)
    a, b = sim.runs(rng, reps, cap, 0.0, SD, noise, p_fail)
    d0, _, _ = sim.decisions(a, b, BATCH, ALPHA, DELTA, c2)
    out = {"helps/hurts at 0": np.isin(d0, [1, 2]).mean()}
    eq = []
    for mu in (DELTA, -DELTA):
        a2, b2 = sim.runs(rng, reps, cap, mu, SD, noise, p_fail)
        eq.append((sim.decisions(a2, b2, BATCH, ALPHA, DELTA, c2)[0] == 3).mean())
    out["equivalent at ±δ"] = max(eq)
    alike = p_fail[0] == p_fail[1] > 0  # the failure test's null, where failures happen
    out["failure test"] = sim.failure_errors(a, b, BATCH, ALPHA).mean() if alike else math.nan
    if p_fail == (0.0, 0.0):
        out["plug-in normal mixture"] = sim.plugin_normal_mixture(a, b, BATCH, ALPHA).mean()
    a3, b3 = sim.runs(rng, reps, cap, 0.01, SD, noise, p_fail)
    d3, look, _ = sim.decisions(a3, b3, BATCH, ALPHA, DELTA, c2)
    out["power at +1 pt"] = (d3 == 1).mean()
    return out


def coverage(rng, reps: int, cap: int) -> dict[str, np.ndarray]:
    """Time-uniform coverage up to each look: the share of replicates whose interval held the
    true mean at every look so far, for this procedure and two it replaces."""
    a, b = sim.runs(rng, reps, cap, 0.0, SD, "normal")
    _, _, bounds = sim.decisions(a, b, BATCH, ALPHA, DELTA, seq.best_c2(cap, ALPHA))
    ok = (bounds[..., 0] <= 0) & (bounds[..., 1] >= 0)
    d = a - b
    n = np.arange(1, cap // BATCH + 1) * BATCH
    mean = np.stack([d[:, :k].mean(1) for k in n], 1)
    sd = np.stack([d[:, :k].std(1, ddof=1) for k in n], 1)
    t_ok = np.abs(mean) <= stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / np.sqrt(n)
    nm = sd * np.sqrt((n + 1.0) * np.log((n + 1.0) / ALPHA**2)) / n
    return {
        "n": n,
        "t-mixture confidence sequence (this)": np.cumprod(ok, 1).mean(0),
        "fixed-n t interval, looked at every batch": np.cumprod(t_ok, 1).mean(0),
        "normal mixture with plug-in σ̂": np.cumprod(np.abs(mean) <= nm, 1).mean(0),
    }


def figure(cov: dict[str, np.ndarray], path: Path, reps: int) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, y in cov.items():
        if label != "n":
            ax.plot(cov["n"], y, marker="o", ms=3, label=label)
    ax.axhline(1 - ALPHA, color="k", ls="--", lw=1, label=f"1 − α = {1 - ALPHA}")
    ax.set_xlabel("seeds n (a look after every batch of 3)")
    ax.set_ylabel("P(interval held the true mean at every look ≤ n)")
    ax.set_title(f"Coverage under monitoring, normal paired differences ({reps} replicates)")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_ylim(0.6, 1.005)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=20000)
    p.add_argument("--out", default="docs")
    args = p.parse_args()
    rng = np.random.default_rng(2026)
    started = time.perf_counter()
    rows = []
    for cap in (9, 30, 60):
        for name, noise, p_fail in SCENARIOS:
            rows.append((cap, name, rates(rng, args.reps, cap, noise, p_fail)))
    cov = coverage(rng, args.reps, 60)
    took = time.perf_counter() - started
    out = Path(args.out)
    figure(cov, out / "study-validity.png", args.reps)
    cols = [
        "helps/hurts at 0",
        "equivalent at ±δ",
        "failure test",
        "plug-in normal mixture",
        "power at +1 pt",
    ]
    lines = [
        "# Study procedure: error rates by simulation",
        "",
        f"`PYTHONPATH=src python scripts/study_validity.py --reps {args.reps}` ({took:.0f} s; "
        f"numpy seed 2026). α = {ALPHA}, δ = {DELTA} (1 pt), paired SD {SD} (1.7 pts, the SD "
        f"seen in bias_vs_norm), looks after every batch of {BATCH} seeds up to the cap, each "
        "replicate stopped at its first decision as a study stops; failed pairs (a run at "
        f"≤ {sim.FAIL_AT_MOST} accuracy) left out by the plan's rule. Each rate must be ≤ α "
        "(helps/hurts when the true difference is 0; equivalent when it is ±δ; the failure-rate "
        "test when both arms fail alike). The plug-in row is the boundary a plan must not use, "
        "simulated alike; power is the share that decides 'helps' at a true +1 pt.",
        "",
        "| cap | paired runs | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for cap, name, r in rows:
        cells = [f"{r[c]:.4f}" if c in r and r[c] == r[c] else "–" for c in cols]
        lines.append(f"| {cap} | {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "![coverage vs n](study-validity.png)",
        "",
        "Coverage at the last look (n = 60): "
        + "; ".join(f"{k}: {v[-1]:.4f}" for k, v in cov.items() if k != "n")
        + ".",
        "",
    ]
    (out / "study-validity.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
