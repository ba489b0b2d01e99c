"""Sweeps are never mixed silently: runs from different sweeps in one group, or one (config,
seed) run twice, are refused unless ``--pool`` says to treat them as replications."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from biaslab.report.values import fmt_value

POOL_HINT = "pass --pool to pool them as replications"


def _sweeps(group: Any) -> dict[str, set]:
    seeds: dict[str, set] = defaultdict(set)
    for arm in group.arms:
        for seed, runs in arm.runs.items():
            for r in runs:
                seeds[r.sweep].add(seed)
    return seeds


def check_sources(
    groups: Sequence[Any], compare: str, pool: bool, read: dict[str, int] | None = None
) -> list[str]:
    """Raise ValueError on mixed sweeps or duplicate (config, seed) runs unless ``pool``;
    return the lines that say where the runs came from: per sweep, the runs read (``read``,
    before any tuned selection) and the seeds used per group."""
    for g in groups:
        sweeps = _sweeps(g)
        if len(sweeps) > 1 and not pool:
            raise ValueError(
                f"group {g.label} mixes runs from {len(sweeps)} sweeps "
                f"({'; '.join(sorted(sweeps))}): {POOL_HINT}"
            )
        for arm in g.arms:
            if arm.duplicates and not pool:
                seed = arm.duplicates[0]
                where = "; ".join(r.source for r in arm.runs[seed])
                raise ValueError(
                    f"group {g.label}, {compare}={fmt_value(arm.value)}: seed {seed} was run "
                    f"{len(arm.runs[seed])} times ({where}): {POOL_HINT}"
                )
    per_sweep: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for g in groups:
        for sweep, seeds in _sweeps(g).items():
            per_sweep[sweep][g.label] |= seeds
    lines = []
    for sweep in sorted(set(per_sweep) | set(read or {})):
        by_group = per_sweep.get(sweep, {})
        n = sum(len(s) for s in by_group.values())
        cells = ", ".join(f"{lb}: {len(s)}" for lb, s in by_group.items())
        k = len(by_group)
        used = f"used {n} seeds in {k} group{'s' * (k != 1)} ({cells})" if k else "none used"
        lines.append(f"- `{sweep}`: " + (f"{read[sweep]} runs read; " if read else "") + used)
    mixed = [g.label for g in groups if len(_sweeps(g)) > 1]
    if pool and mixed:
        lines.append(
            "- Pooled with `--pool` as replications of one design: "
            + ", ".join(f"**{lb}**" for lb in mixed)
            + " combine runs from more than one sweep."
        )
    return lines
