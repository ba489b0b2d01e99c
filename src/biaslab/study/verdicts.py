"""``report DIR`` also writes ``DIR/verdicts.json``: the study's cells in the schema a report's
verdicts.json has (:mod:`biaslab.report.verdict_data`), so that the answer page
(:mod:`biaslab.report.answer`) counts a study like any report. One comparison per cell: the mean
difference and the confidence sequence at 1 − α/m, the anytime p-value against 0 (the
equivalence p for "equivalent"), and the plan's own correction, Bonferroni over its m cells
(min(1, m·p)), where a report stores its Holm p."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from biaslab.report.values import scale
from biaslab.study import progress, records, sequential
from biaslab.study.plan import Plan, read
from biaslab.study.report import natural
from biaslab.study.run import read_choice

VERDICTS = "verdicts.json"
SCHEMA = 1


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _where(plan: Plan, cell: progress.CellState) -> str:
    """ "decided at n = 9, look 3 of 8", or where and why it stopped undecided."""
    last = cell.looks[-1]
    where = f"n = {last.n}, look {last.k} of {plan.looks()}"
    return f"decided at {where}" if cell.decided else f"{where}, stopped by the {cell.stopped}"


def _text(plan: Plan, cell: progress.CellState, kind: str, p: float, cs: str) -> str:
    last = cell.looks[-1]
    lo, hi, mean = natural(plan, last.lo, last.hi, last.mean)
    s = scale(plan.metric) if plan.scale == "linear" else 1.0
    unit = " pts" if s == 100.0 else ""
    test = "equivalence" if kind == "equivalent" else "against 0"
    if plan.scale == "log":  # a difference of logs: the geometric mean ratio
        effect = f"×{math.exp(mean):.3f} [×{math.exp(lo):.3f}, ×{math.exp(hi):.3f}]"
    else:
        effect = f"{s * mean:+.2f} [{s * lo:+.2f}, {s * hi:+.2f}]{unit}"
    return (
        f"{kind}: {effect} ({cs}), anytime p={p:.3g} "
        f"{test} (Bonferroni over m = {plan.m}: {min(1.0, plan.m * p):.3g}); {_where(plan, cell)}"
    )


def _comparison(plan: Plan, cell: progress.CellState, tuned: dict[str, str]) -> dict[str, Any]:
    last = cell.looks[-1]
    lo, hi, mean = natural(plan, last.lo, last.hi, last.mean)
    kind = last.verdict
    p0 = last.p_value
    delta = plan.margin()
    p_eq = sequential.equivalence_p(cell.diffs, delta, plan.c2)
    cs = f"{100 * (1 - plan.alpha_cell()):.4g} % confidence sequence"
    m = plan.m
    a, b = plan.arms
    test = {"n": last.n, "diff": _num(mean), "ci_low": _num(lo), "ci_high": _num(hi), "p": p0,
            "name": "anytime t"}  # fmt: skip
    failed = [s for s, d in cell.pairs.items() if d is None]
    return {
        "group": dict(cell.cell),
        "value": a,
        "label": plan.compare.rsplit(".", 1)[-1],
        "kind": kind,
        "verdict": _text(plan, cell, kind, p_eq if kind == "equivalent" else p0, cs),
        "identical": False,
        "twin_of": None,
        "tuned": {"value": tuned.get(a, ""), "baseline": tuned.get(b, "")} if plan.tune else {},
        "diffs": {str(s): d for s, d in cell.pairs.items()},
        "usable": [str(s) for s, d in cell.pairs.items() if d is not None],
        "not_learned": [str(s) for s in failed],
        "only_value": [],
        "only_baseline": [],
        "test": test,
        "p_holm": min(1.0, m * p0),  # the plan's own correction: Bonferroni over m cells
        "equivalence": {"margin": delta, "ci_low": _num(lo), "ci_high": _num(hi), "p": p_eq,
                        "p_holm": min(1.0, m * p_eq), "name": "anytime equivalence"},
        "seeds_needed": None,
        "solve": None,
        "all_pairs": None,
        "did_not_learn": None
        if not failed
        else {"value": cell.failures.get(a, 0), "baseline": cell.failures.get(b, 0),
              "p": min(1.0, math.exp(-cell.failure_evidence))},
        "flags": [],
        "look": {"k": last.k, "of": plan.looks(), "n": last.n, "stopped": cell.stopped},
    }  # fmt: skip


def verdict_data(folder: Path) -> dict[str, Any] | None:
    """The study's verdicts.json content; None before stage 2 has a look."""
    plan, plan_hash = read(folder)
    choice = read_choice(folder, plan_hash)
    if choice is None:
        return None
    rec = records.read(plan, plan_hash, folder)
    state = progress.replay(plan, rec, choice)
    cells = [c for c in state.cells if c.looks]
    comparisons = [_comparison(plan, c, choice[progress.label(c.cell)]) for c in cells]
    return {
        "schema": SCHEMA,
        "command": f"python -m biaslab.study report {folder.as_posix()}",
        "protocol": "study",
        "plan_hash": plan_hash,
        "correction": f"Bonferroni over the plan's m = {plan.m} cells (α/m per cell)",
        "interval": f"{100 * (1 - plan.alpha_cell()):.4g} % confidence sequence",
        "compare": plan.compare,
        "baseline": plan.arms[1],
        "metric": plan.metric,
        "lower_is_better": plan.direction == "min",
        "scale": scale(plan.metric) if plan.scale == "linear" else 1.0,
        "log_scale": plan.scale == "log",
        "margin": plan.margin(),
        "select": plan.tune,
        "by": plan.select_by if plan.tune else None,
        "group_keys": list(plan.cells),
        "runs": len(rec.runs),
        "runs_not_used": len(rec.exploratory),
        "runs_not_learned": sum(sum(c.failures.values()) for c in cells),
        "family_size": plan.m,
        "eq_family_size": plan.m,
        "comparisons": comparisons,
        "interaction_key": None,
        "interactions": [],
    }


def write(folder: Path) -> Path | None:
    data = verdict_data(folder)
    if data is None:
        return None
    path = folder / VERDICTS
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    return path
