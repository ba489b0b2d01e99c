"""The report's verdicts as ``verdicts.json``: every comparison's numbers, per-seed differences
included, for readers that should not parse report.md (the answer page,
:mod:`biaslab.report.answer`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from biaslab.report.build import Report
from biaslab.report.compare import Comparison
from biaslab.report.values import fmt_value, ident, lower_is_better, scale

SCHEMA = 1


def _num(x: float | None) -> float | None:
    """Strict JSON: nan and infinities are null."""
    return None if x is None or not math.isfinite(x) else float(x)


def _test(t) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"n": t.n, "diff": _num(t.diff), "ci_low": _num(t.ci_low), "ci_high": _num(t.ci_high),
            "p": _num(t.p)}  # fmt: skip


def _equivalence(eq) -> dict[str, Any] | None:
    if eq is None:
        return None
    return {"margin": eq.margin, "ci_low": _num(eq.ci_low), "ci_high": _num(eq.ci_high),
            "p": _num(eq.p), "p_holm": _num(eq.p_holm)}  # fmt: skip


def _comparison(cmp: Comparison, group: dict[str, str], tuned: dict[str, str]) -> dict:
    eq, solve = cmp.equivalence, cmp.solve
    return {
        "group": group,
        "value": fmt_value(cmp.value),
        "label": cmp.label,
        "kind": cmp.kind,
        "verdict": cmp.verdict,
        "identical": cmp.identical,
        "twin_of": None if cmp.twin is None else fmt_value(cmp.twin.value),
        "tuned": tuned,  # the tuned key's value chosen per arm (--select), else empty
        "diffs": {fmt_value(s): _num(d) for s, d in cmp.diffs.items()},
        "usable": [fmt_value(s) for s in cmp.usable],
        "not_learned": [fmt_value(s) for s, _ in cmp.not_learned],
        "only_value": [fmt_value(s) for s in cmp.only_value],
        "only_baseline": [fmt_value(s) for s in cmp.only_baseline],
        "test": _test(cmp.test),
        "p_holm": _num(cmp.p_holm),
        "equivalence": _equivalence(eq),
        "seeds_needed": cmp.seeds_needed,
        "solve": None
        if solve is None
        else {
            "solved": solve.solved,
            "solved_baseline": solve.solved_base,
            "n": solve.n,
            "ci": list(solve.ci),
            "ci_baseline": list(solve.ci_base),
            "p": _num(solve.p),
            "p_holm": _num(solve.p_holm),
        },  # fmt: skip
        "all_pairs": _test(cmp.all_pairs),
        "did_not_learn": None
        if cmp.did_not_learn is None
        else {
            "value": cmp.did_not_learn[0],
            "baseline": cmp.did_not_learn[1],
            "p": _num(cmp.did_not_learn[2]),
        },  # fmt: skip
        "flags": list(cmp.flags),
    }


def _interaction(x) -> dict[str, Any]:
    eq = x.equivalence
    return {
        "key": x.key,
        "level": fmt_value(x.level),
        "reference": fmt_value(x.reference),
        "label": x.label,
        "context": x.context,
        "kind": x.kind,
        "verdict": x.verdict,
        "diffs": {fmt_value(s): _num(d) for s, d in x.diffs.items()},
        "test": _test(x.test),
        "p_holm": _num(x.p_holm),
        "equivalence": _equivalence(eq),
    }


def verdict_data(rep: Report) -> dict[str, Any]:
    chosen = {(ident(s.group), ident(s.arm)): fmt_value(s.chosen) for s in rep.selections}
    comparisons = []
    for g in rep.groups:
        group = {k: fmt_value(v) for k, v in g.key}
        for cmp in g.comparisons:
            tuned = {}
            if rep.select is not None:
                tuned = {
                    arm: chosen.get((ident(g.key), ident(value)), "")
                    for arm, value in (("value", cmp.value), ("baseline", rep.baseline))
                }
            comparisons.append(_comparison(cmp, group, tuned))
    return {
        "schema": SCHEMA,
        "command": rep.command,
        "compare": rep.compare,
        "baseline": fmt_value(rep.baseline),
        "metric": rep.metric,
        "lower_is_better": lower_is_better(rep.metric),
        "scale": scale(rep.metric),
        "margin": rep.margin,
        "select": rep.select,
        "by": rep.by,
        "group_keys": list(rep.group_keys),
        "runs": rep.n_runs,
        "runs_not_used": len(rep.problems),
        "runs_not_learned": rep.not_learned,
        "family_size": rep.family_size,
        "eq_family_size": rep.eq_family_size,
        "comparisons": comparisons,
        # --interaction: the gain at each level minus the gain at the reference (own families)
        "interaction_key": rep.interaction_key,
        "interactions": [_interaction(x) for x in rep.interactions],
    }


def write_verdicts(rep: Report, path: Path) -> None:
    path.write_text(json.dumps(verdict_data(rep), indent=1, allow_nan=False) + "\n")
