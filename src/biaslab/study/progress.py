"""Where a study stands, replayed from its plan and its records alone: stage 1's choice per arm,
then stage 2 round by round (one batch of fresh seeds for every cell not yet decided), up to the
first round whose runs are missing. Resuming is this replay, so a study stopped at any point
reaches the decisions an uninterrupted one reaches."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from biaslab.report.load import Run
from biaslab.study import sequential
from biaslab.study.launch import Job
from biaslab.study.plan import Plan
from biaslab.study.records import Key, Records, failed, value

Cell = tuple[tuple[str, str], ...]


def label(cell: Cell) -> str:
    return " ".join(f"{k}={v}" for k, v in cell) or "(one cell)"


def choose(plan: Plan, records: Records) -> tuple[dict[str, dict[str, str]], list[Job]]:
    """Stage 1: per cell and arm, the grid value with the best mean of ``select_by`` over the
    tuning seeds (failed runs count as the worst value); or the tuning jobs still missing."""
    missing: list[Job] = []
    choice: dict[str, dict[str, str]] = {}
    for cell in (tuple(c.items()) for c in plan.cell_list()):
        choice[label(cell)] = {}
        for arm in plan.arms:
            scores = []
            for g in plan.grid:
                runs = [records.runs.get(Key(arm, cell, g, s)) for s in plan.tuning_seed_list()]
                if any(r is None for r in runs):
                    for start in plan.tuning_seeds:
                        place = ((plan.compare, arm), *cell, (plan.tune, g))
                        missing += _missing(plan, records, arm, cell, g, start, place)
                    continue
                sign = 1.0 if plan.select_direction == "max" else -1.0
                vals = [
                    sign * r.metrics[plan.select_by]
                    if not failed(plan, r) and plan.select_by in r.metrics
                    else -math.inf
                    for r in runs
                ]
                scores.append(float(np.mean(vals)))
            if len(scores) == len(plan.grid):
                choice[label(cell)][arm] = plan.grid[int(np.argmax(scores))]
    return choice, list(dict.fromkeys(missing))


@dataclass
class CellState:
    cell: Cell
    looks: list[sequential.Look] = field(default_factory=list)
    diffs: list[np.ndarray] = field(default_factory=list)  # per batch, failed pairs left out
    # per seed: first − second on the plan's scale (None: a run failed or lacks the metric)
    pairs: dict[int, float | None] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # failed runs per arm
    runs: dict[str, int] = field(default_factory=dict)  # runs per arm
    # per arm, the runs the verdict read (failed ones included), in seed order
    members: dict[str, list[Run]] = field(default_factory=dict)
    discordant: tuple[int, int] = (0, 0)  # pairs where only the first / only the second failed
    failure_evidence: float = 0.0  # log, max over looks: the failure test's anytime p = exp(-it)
    stopped: str = ""  # "" while running, else why it stopped: decided | cap | budget

    @property
    def decided(self) -> bool:
        return bool(self.looks) and self.looks[-1].verdict != "inconclusive"


def _seeds(plan: Plan, k: int) -> list[int]:
    start = plan.confirm_start + (k - 1) * plan.batch
    return list(range(start, start + plan.batch))


def _missing(
    plan: Plan, rec: Records, arm: str, cell: Cell, value: str | None, start: int, place: Job
) -> list[Job]:
    """The jobs of the batch from ``start`` that still lack a record (a pack is run whole)."""
    return [
        (*place, ("seed", str(seeds[0])))
        for seeds in plan.job_seeds(start)
        if any(Key(arm, cell, value, s) not in rec.runs for s in seeds)
    ]


def _jobs(plan: Plan, cell: Cell, arm_values: dict[str, str], k: int, rec: Records) -> list[Job]:
    out = []
    for arm in plan.arms:
        tuned = arm_values.get(arm)
        place = ((plan.compare, arm), *cell) + (((plan.tune, tuned),) if plan.tune else ())
        out += _missing(plan, rec, arm, cell, tuned, _seeds(plan, k)[0], place)
    return out


def _add_batch(plan: Plan, state: CellState, arm_values: dict[str, str], rec: Records) -> None:
    sign = 1.0 if plan.direction == "max" else -1.0
    a, b = plan.arms
    diffs = []
    da, db = state.discordant
    for s in _seeds(plan, len(state.diffs) + 1):
        ra, rb = (rec.runs[Key(arm, state.cell, arm_values.get(arm), s)] for arm in plan.arms)
        fa, fb = failed(plan, ra), failed(plan, rb)
        for arm, f, r in ((a, fa, ra), (b, fb, rb)):
            state.failures[arm] = state.failures.get(arm, 0) + int(f)
            state.runs[arm] = state.runs.get(arm, 0) + 1
            state.members.setdefault(arm, []).append(r)
        da, db = da + int(fa and not fb), db + int(fb and not fa)
        va, vb = value(plan, ra), value(plan, rb)
        usable = not (fa or fb) and va is not None and vb is not None
        state.pairs[s] = va - vb if usable else None
        if usable:
            diffs.append(sign * (va - vb))
    state.discordant = (da, db)
    state.failure_evidence = max(state.failure_evidence, sequential.failure_log_evidence(da, db))
    state.diffs.append(np.array(diffs))
    looks = sequential.looks(state.diffs, plan.alpha_cell(), plan.margin(), plan.c2)
    state.looks = looks


@dataclass
class Progress:
    choice: dict[str, dict[str, str]]
    cells: list[CellState]
    missing: list[Job]  # the jobs the next round still needs (empty: the study is done)
    tag: str  # the round they belong to (tune, look1, look2, …)
    used: int  # runs the plan has spent, rounds counted whole


def replay(plan: Plan, records: Records, choice: dict[str, dict[str, str]]) -> Progress:
    """Stage 2 replayed from the records, up to the first round with runs missing."""
    states = [CellState(tuple(c.items())) for c in plan.cell_list()]
    used = plan.stage1_runs() if plan.tune else 0
    for k in range(1, plan.looks() + 1):
        undecided = [s for s in states if not s.decided]
        if not undecided:
            break
        need = len(undecided) * 2 * plan.batch
        if used + need > plan.budget:
            for s in undecided:
                s.stopped = "budget"
            return Progress(choice, states, [], "", used)
        missing = [
            j for s in undecided for j in _jobs(plan, s.cell, choice[label(s.cell)], k, records)
        ]
        if missing:
            return Progress(choice, states, missing, f"look{k}", used)
        used += need
        for s in undecided:
            _add_batch(plan, s, choice[label(s.cell)], records)
    for s in states:
        s.stopped = "decided" if s.decided else "cap"
    return Progress(choice, states, [], "", used)
