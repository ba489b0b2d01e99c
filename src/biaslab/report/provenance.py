"""What the runs ran on, as their results.json files record it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from biaslab.records.results import DIGEST, MODIFIED, SEALED, UNSEALED
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


def edit_evidence(runs: Sequence[Run]) -> str | None:
    """How many results.json records carry a digest that matches their content, how many
    were recorded before digests, and how many were modified after their run (used only
    when ``--allow-modified`` read them: their status then is not ``modified``)."""
    seals = [r.integrity for r in runs if r.integrity]
    if not seals:
        return None
    parts = []
    if seals.count(SEALED):
        parts.append(f"{seals.count(SEALED)} with a matching {DIGEST}")
    if seals.count(UNSEALED):
        parts.append(f"{seals.count(UNSEALED)} {UNSEALED}")
    modified = [r for r in runs if r.integrity == MODIFIED]
    if modified:
        used = sum(r.status != "modified" for r in modified)
        how = "used: --allow-modified" if used else "not used"
        parts.append(f"{len(modified)} {MODIFIED} ({how})")
    return f"Records ({len(seals)}): " + ", ".join(parts)
