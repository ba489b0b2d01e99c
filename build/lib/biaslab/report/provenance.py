"""What the runs ran on, as their results.json files record it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from biaslab.report.load import Run


def _tally(values: Iterable[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{v} ({n} runs)" for v, n in sorted(counts.items()))


def provenance(runs: Sequence[Run]) -> list[str]:
    """What the runs ran on, as recorded in their results.json: mixed versions show up."""
    recorded = [r.provenance for r in runs if r.provenance]
    if not recorded:
        return []
    lines = []
    versions = [
        ", ".join(f"{k} {v}" for k, v in p["versions"].items())
        for p in recorded
        if p.get("versions")
    ]
    if versions:
        lines.append(f"- Software: {_tally(versions)}")
    commits = [(p.get("git_commit") or "unknown")[:12] for p in recorded]
    lines.append(f"- Code (git commit): {_tally(commits)}")
    lines.append(f"- Device: {_tally(str(p.get('device') or 'unknown') for p in recorded)}")
    jobs = {
        p.get("job", i): float(p["total_s"])
        for i, p in enumerate(recorded)
        if p.get("total_s") is not None
    }
    if jobs:
        times = list(jobs.values())
        n_runs = sum(p.get("total_s") is not None for p in recorded)
        over = f"{n_runs} runs" if n_runs == len(jobs) else f"{len(jobs)} jobs ({n_runs} runs)"
        each = "run" if n_runs == len(jobs) else "job"
        lines.append(
            f"- Wall time: {sum(times) / 60:.1f} min over {over} "
            f"(median {np.median(times):.1f} s, max {max(times):.1f} s per {each})"
        )
    return lines
