"""A study's runs, read back from the results.json files under its folder: which belong to the
plan (its hash, an arm, a cell, a grid value, a planned seed) and which are exploratory, and
which failed by the plan's rule."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biaslab.report.load import Run, load_files
from biaslab.study.plan import Plan

HASH_KEY = "study.plan_hash"
# outcomes a rerun would repeat; a run stopped from outside (killed, interrupted) is not one
OUTCOMES = ("completed", "failed", "diverged")


def same(value: Any, text: str) -> bool:
    """Whether a recorded config value is the plan's value as written on a command line."""
    if value is None:
        return text in ("null", "None", "~")
    if isinstance(value, bool):
        return str(value).lower() == text.lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return math.isclose(float(value), float(text), rel_tol=1e-12)
        except ValueError:
            return False
    return str(value) == text


def fixed_as_planned(plan: Plan, cfg: dict[str, Any]) -> bool:
    """Whether the run's config holds every fixed ``key=value`` override of the plan (a group
    choice such as trainer=cpu is not a config value, and is not checked here)."""
    for override in plan.overrides:
        key, _, text = override.lstrip("+").partition("=")
        if key in cfg and not same(cfg[key], text):
            return False
    return True


@dataclass(frozen=True)
class Key:
    """Where a run sits in the plan: arm, cell, grid value (None: no tuning), seed."""

    arm: str
    cell: tuple[tuple[str, str], ...]
    value: str | None
    seed: int


def place(plan: Plan, run: Run, plan_hash: str) -> Key | None:
    """The run's place in the plan, or None when it is outside it (exploratory)."""
    cfg = run.config
    if cfg.get(HASH_KEY) != plan_hash or not isinstance(run.seed, int):
        return None
    arm = next((a for a in plan.arms if same(cfg.get(plan.compare), a)), None)
    cell = []
    for key, values in plan.cells.items():
        v = next((v for v in values if same(cfg.get(key), v)), None)
        if v is None:
            return None
        cell.append((key, v))
    value = None
    if plan.tune:
        value = next((g for g in plan.grid if same(cfg.get(plan.tune), g)), None)
        if value is None:
            return None
    planned = run.seed in plan.tuning_seed_list() or run.seed in plan.confirm_seeds()
    if arm is None or not planned or not fixed_as_planned(plan, cfg):
        return None
    return Key(arm, tuple(cell), value, run.seed)


def failed(plan: Plan, run: Run) -> bool:
    """The plan's rule: not completed, or at or below chance on validation."""
    if run.status != "completed":
        return True
    if plan.fail_at_most is None:
        return False
    v = run.metrics.get(plan.fail_metric)
    return not isinstance(v, (int, float)) or not math.isfinite(v) or v <= plan.fail_at_most


@dataclass
class Records:
    runs: dict[Key, Run]  # the plan's runs, one per place (an outcome, not a killed attempt)
    exploratory: list[Run]  # runs under the folder that are not the plan's
    # a place recorded twice: a packed job killed after some members were written, run again
    repeated: list[Run] = field(default_factory=list)


def read(plan: Plan, plan_hash: str, folder: Path) -> Records:
    """Every run under ``folder``; of two records for the same place the first in path order
    counts (a place is only rerun when its record is not an outcome)."""
    runs: dict[Key, Run] = {}
    exploratory: list[Run] = []
    repeated: list[Run] = []
    for run in load_files([folder]):
        key = place(plan, run, plan_hash)
        if key is None:
            exploratory.append(run)
        elif run.status not in OUTCOMES:
            continue  # killed or interrupted: its place is run again
        elif key in runs:
            repeated.append(run)
        else:
            runs[key] = run
    return Records(runs, exploratory, repeated)


def value(plan: Plan, run: Run) -> float | None:
    """The run's metric on the plan's scale (log for ratio metrics), None if missing."""
    v = run.metrics.get(plan.metric)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    if plan.scale == "log":
        return math.log(v) if v > 0 else None
    return float(v)
