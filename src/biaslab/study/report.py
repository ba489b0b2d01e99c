"""``report DIR``: the study's verdicts as markdown, read from its plan, its frozen choice and
its records: per cell the verdict, the look and n that decided it, the interval, the anytime
p-value and the failures per arm; runs outside the plan listed as exploratory; the end-of-run
measures of the runs the verdicts read, where they recorded any (:mod:`.measures`)."""

from __future__ import annotations

import math
from pathlib import Path

from biaslab.report.notes import edge_warning
from biaslab.study import measures, progress, records
from biaslab.study.plan import Plan, read
from biaslab.study.run import read_choice

REPORT = "report.md"


def _fmt(plan: Plan, d: float) -> str:
    """A difference on the plan's scale, in the words a reader wants (pts, or a ratio)."""
    if not math.isfinite(d):
        return "∞" if d > 0 else "−∞"
    if plan.scale == "log":
        return f"×{math.exp(d):.3f}"
    if plan.metric.endswith("acc"):
        return f"{100 * d:+.2f} pts"
    return f"{d:+.4g}"


def natural(plan: Plan, lo: float, hi: float, mean: float) -> tuple[float, float, float]:
    """Back from the oriented difference (> 0: the first arm better) to first − second."""
    if plan.direction == "max":
        return lo, hi, mean
    return -hi, -lo, -mean


def _verdict(plan: Plan, cell: progress.CellState) -> str:
    if not cell.looks:
        return "not started (budget)" if cell.stopped == "budget" else "running"
    last = cell.looks[-1]
    first = f"{plan.compare}={plan.arms[0]}"
    if cell.decided:
        word = {"helps": f"{first} helps", "hurts": f"{first} hurts"}.get(
            last.verdict, last.verdict
        )
        return f"**{word}**, decided at n = {last.n}, look {last.k} of {plan.looks()}"
    where = f"n = {last.n} (look {last.k} of {plan.looks()}"
    if not cell.stopped:
        return f"undecided so far at {where}; the study goes on)"
    return f"inconclusive at {where}, stopped by the {cell.stopped})"


def _failures(plan: Plan, cell: progress.CellState) -> tuple[str, str]:
    """Failed runs per arm, and the anytime p of the sequential exact test of equal rates
    (which arm fails more, where p <= alpha / m)."""
    rates = ", ".join(f"{cell.failures.get(a, 0)}/{cell.runs.get(a, 0)}" for a in plan.arms)
    p = min(1.0, math.exp(-cell.failure_evidence))
    if p > plan.alpha_cell():
        return rates, f"{p:.3g}"
    first, second = cell.discordant
    worse = plan.arms[0] if first > second else plan.arms[1]
    return rates, f"{p:.3g}: {plan.compare}={worse} fails more often"


def _header(plan: Plan, plan_hash: str, state: progress.Progress, scale: str) -> list[str]:
    margin = (
        f"×{1 / plan.delta:.3g} to ×{plan.delta:.3g}" if plan.scale == "log" else f"±{plan.delta}"
    )
    out = [
        f"# Study {plan.name}: {plan.compare}={plan.arms[0]} against {plan.arms[1]}",
        "",
        f"Plan {plan_hash} (plan.yaml): {plan.metric} ({plan.direction} is better), {scale} "
        f"{plan.arms[0]} vs {plan.arms[1]}; equivalence margin {margin}; α = {plan.alpha} over "
        f"m = {plan.m} cells, α/m = {plan.alpha_cell():.4g} per cell; batches of {plan.batch} "
        f"fresh seeds from {plan.confirm_start}, cap {plan.cap} per cell ({plan.looks()} looks), "
        f"budget {plan.budget} runs ({state.used} spent).",
        "",
        f"Procedure: {plan.procedure} (c² = {plan.c2}). Each interval holds at every look at "
        "once, so a cell stops at the first look that decides it; the p-value is anytime-valid.",
        "",
        f"Failed runs: {plan.failed_rule}.",
        "",
    ]
    if plan.tune:
        out += [
            f"Stage 1: {plan.tune} tuned over {', '.join(plan.grid)} on seeds "
            f"{', '.join(map(str, plan.tuning_seed_list()))}; {plan.validation_rule}. "
            "Chosen (choice.yaml):",
            "",
        ]
        for cell, arms in state.choice.items():
            out.append(f"- {cell}: " + ", ".join(f"{a} → {v}" for a, v in arms.items()))
        out += ["", *_edges(plan, state.choice)]
    return out


def _edges(plan: Plan, choice: dict[str, dict[str, str]]) -> list[str]:
    """A warning for each arm chosen at an end of a grid of 3 or more values: its best value
    may lie outside the grid (in the sweep report's words)."""
    try:
        ordered = sorted(plan.grid, key=float)
    except ValueError:  # not numbers: no order, no ends
        return []
    if len(ordered) < 3:
        return []
    ends = (ordered[0], ordered[-1])
    edge = [f"{cell}, `{a}`: {v}" for cell, arms in choice.items() for a, v in arms.items()
            if v in ends]  # fmt: skip
    if not edge:
        return []
    return [edge_warning(plan.tune, edge, sum(len(arms) for arms in choice.values())), ""]


def lines(
    plan: Plan, plan_hash: str, state: progress.Progress, exploratory: list, repeated: list = ()
) -> list[str]:
    scale = "geometric mean ratio" if plan.scale == "log" else "mean difference"
    out = _header(plan, plan_hash, state, scale)
    out += [
        f"| cell | verdict | {scale} | interval (1−α/m) | anytime p | failed runs "
        f"({plan.arms[0]}, {plan.arms[1]}) | failure p |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in state.cells:
        rates, fp = _failures(plan, cell)
        if cell.looks:
            last = cell.looks[-1]
            lo, hi, mean = natural(plan, last.lo, last.hi, last.mean)
            nums = f"{_fmt(plan, mean)} | [{_fmt(plan, lo)}, {_fmt(plan, hi)}] | {last.p_value:.3g}"
        else:
            nums = "– | – | –"
        out.append(
            f"| {progress.label(cell.cell)} | {_verdict(plan, cell)} | {nums} | {rates} | {fp} |"
        )
    if repeated:
        out += [
            "",
            f"Places recorded twice (a packed job killed part-way, run again; the first "
            f"record counts, the same config and seed): {len(repeated)}",
        ]
    out += ["", f"Exploratory runs (outside the plan; in no verdict): {len(exploratory)}"]
    out += [f"- {r.source}" for r in exploratory[:50]]
    return out + measures.section(plan, state)


def _replay(folder: Path) -> tuple[Plan, str, records.Records, progress.Progress | None]:
    """The plan, its hash, the records, and where the study stands (None before stage 2)."""
    plan, plan_hash = read(folder)
    choice = read_choice(folder, plan_hash)
    rec = records.read(plan, plan_hash, folder)
    return plan, plan_hash, rec, None if choice is None else progress.replay(plan, rec, choice)


def report(folder: Path) -> str:
    return _text(*_replay(folder))


def _text(plan: Plan, plan_hash: str, rec: records.Records, state: progress.Progress | None) -> str:
    if state is None:
        return f"# Study {plan.name}\n\nStage 1 has not finished: no choice.yaml yet.\n"
    return "\n".join(lines(plan, plan_hash, state, rec.exploratory, rec.repeated)) + "\n"


def write(folder: Path) -> str:
    """``folder``/report.md, and built_bias.png where the runs the verdicts read measured it;
    the report's text."""
    plan, plan_hash, rec, state = _replay(folder)
    text = _text(plan, plan_hash, rec, state)
    (folder / REPORT).write_text(text)
    if state is not None:
        measures.figure(plan, state, folder)
    return text
