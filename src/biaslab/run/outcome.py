"""What :func:`biaslab.run.train.train` returns, made from the job's records: its status, metrics
(a packed job's: its completed members' means), the optimized value a sweeper reads, and
where each member's record and logger run are."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

from biaslab.records.results import FILENAME
from biaslab.run.record import RunRecord


class MemberOutcome(TypedDict):
    """One packed member's part of an :class:`Outcome`."""

    seed: int
    status: str
    metrics: dict[str, Any]
    results: str  # its results.json
    run: str | None  # where its logger keeps it


class _Outcome(TypedDict):
    status: str
    params: dict[str, int]
    optimized: float | None
    wall_s: float
    metrics: dict[str, Any]
    results: str
    run: str | None


class Outcome(_Outcome, total=False):
    """What a job ended with: ``status`` (completed or diverged), ``params`` (one member's
    counts), ``optimized`` (the optimized metric: NaN when a run diverged, None when not
    recorded), ``wall_s``, ``metrics`` (a packed job's: its completed members' means),
    ``results`` (path or glob), ``run`` (the logger's run), and a packed job's ``members``."""

    members: list[MemberOutcome]


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else float("nan")


def outcome(
    metric: str, records: Sequence[RunRecord], out_dirs: Sequence[Path], job_dir: Path
) -> Outcome:
    """``metric``: the optimized one (NaN when a run diverged, None when not recorded)."""
    values = [r.metrics.get(metric) for r in records]
    diverged = any(r.status == "diverged" for r in records)
    optimized = (
        float("nan") if diverged else None if None in values else _mean(list(map(float, values)))
    )
    out: dict[str, Any] = {
        "status": "diverged" if diverged else "completed",
        "params": records[0].data.get("params", {}),
        "optimized": optimized,
        "wall_s": records[0].data["timing"]["total_s"],
    }
    if len(records) == 1:
        r = records[0]
        return {
            **out,
            "metrics": r.metrics,
            "results": str(out_dirs[0] / FILENAME),
            "run": r.data.get("run"),
        }
    done = [r.metrics for r in records if r.status == "completed"]
    keys = sorted({key for m in done for key in m})
    return {
        **out,
        "metrics": {key: _mean([float(m[key]) for m in done if key in m]) for key in keys},
        "results": str(job_dir / "seed=*" / FILENAME),
        "run": None,
        "members": [
            {
                "seed": r.data["seed"],
                "status": r.status,
                "metrics": r.metrics,
                "results": str(d / FILENAME),
                "run": r.data.get("run"),
            }
            for r, d in zip(records, out_dirs, strict=True)
        ],
    }
