"""A tuned report's arms compared at each value of the tuned key that both ran.

The tuned verdict compares each arm at its own chosen value (``--select``). Where two arms
chose different values, part of their difference may be the tuned key's effect, not the
compared key's, and the choice itself rests on validation means a few tenths of a point
apart. Beside it, this compares the arms at every value they share, paired by seed with
the same learned-checks: descriptive, outside the Holm family (the verdicts keep their
tests); a difference that holds at every shared value does not hinge on the choice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from biaslab.report.analysis import analyze
from biaslab.report.compare import Comparison
from biaslab.report.load import Run
from biaslab.report.markdown import md_table
from biaslab.report.select import Selection
from biaslab.report.sources import check_sources
from biaslab.report.values import fmt_num, fmt_value, ident, sort_key
from biaslab.report.verdict import unit


@dataclass
class AtValue:
    """One compared value against the baseline, both at one value of the tuned key."""

    group: tuple[tuple[str, Any], ...]  # as analysis.Group.key
    value: Any  # the compared key's value
    at: Any  # the tuned key's value
    cmp: Comparison


def at_shared_values(
    runs: Sequence[Run],
    compare: str,
    metric: str,
    baseline: Any,
    group_keys: Sequence[str],
    select_key: str,
    failed: dict[int, str],
    margin: float | None,
    pool: bool = False,
) -> list[AtValue]:
    """Every (group, compared value, tuned value) both arms ran with at least one seed in
    common, tested or not (a test needs 2 usable pairs: ``cmp.test`` is None without them); a
    value whose runs are another's, bit for bit (a twin), is left out as the verdicts leave
    it. Runs of several sweeps in one cell are refused unless ``pool``, as for the verdicts
    (:func:`~biaslab.report.sources.check_sources`)."""
    by_at: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        by_at[ident(r.config.get(select_key))].append(r)
    out = []
    for at_runs in by_at.values():
        at = at_runs[0].config.get(select_key)
        groups = analyze(at_runs, compare, metric, baseline, group_keys, failed, margin)
        check_sources(groups, compare, pool)
        for group in groups:
            out += [
                AtValue(group.key, c.value, at, c)
                for c in group.comparisons
                if c.diffs and not c.twin
            ]
    out.sort(key=lambda a: ([sort_key(v) for _, v in a.group], sort_key(a.value), sort_key(a.at)))
    return out


def tested(found: Sequence[AtValue]) -> list[AtValue]:
    """The shared values with enough usable pairs for a test."""
    return [a for a in found if a.cmp.test is not None]


def _chosen(selections: Sequence[Selection]) -> dict[tuple[str, str], Any]:
    return {(ident(s.group), ident(s.arm)): s.chosen for s in selections}


def flag_differing_choices(
    comparisons: Sequence[tuple[tuple[tuple[str, Any], ...], Comparison]],
    selections: Sequence[Selection],
    baseline: Any,
    found: Sequence[AtValue],
    select_key: str,
    metric: str,
) -> None:
    """Flag each (group key, comparison) whose two arms were chosen at different values,
    with the range of the difference at the values both arms ran that could be tested, and
    how many values both ran when some could not."""
    chosen = _chosen(selections)
    for group, cmp in comparisons:
        mine, base = (
            chosen.get((ident(group), ident(cmp.value))),
            chosen.get((ident(group), ident(baseline))),
        )
        if mine is None or base is None or ident(mine) == ident(base):
            continue
        row = (ident(group), ident(cmp.value))
        ran = [a for a in found if (ident(a.group), ident(a.value)) == row]
        shared = [a.cmp.test.diff for a in tested(ran)]
        lo, hi = (
            (fmt_num(min(shared), metric, True), fmt_num(max(shared), metric, True))
            if shared
            else ("", "")
        )
        if not shared:
            where = f"no `{select_key}` value of both arms has 2 usable pairs to compare"
        else:
            # values both arms ran whose pairs did not learn often enough are counted, not hidden
            some = len(shared) < len(ran)
            count = (
                f"{len(shared)} of {len(ran)}"
                if some
                else ("the one" if len(shared) == 1 else f"the {len(shared)}")
            )
            noun = "value" if count == "the one" else "values"
            span = (lo if len(shared) == 1 else f"{lo} to {hi}") + unit(metric)
            where = f"at {count} `{select_key}` {noun} both arms ran it is {span}"
            if some:
                where += " (the others have fewer than 2 usable pairs)"
        see = f"; see *Arms at the same `{select_key}`*" if shared else ""
        cmp.flags.append(
            f"the arms were chosen at different `{select_key}` ({fmt_value(mine)} vs "
            f"{fmt_value(base)}), so part of this difference may be `{select_key}`'s: "
            f"{where}{see}"
        )


def render(found: Sequence[AtValue], select_key: str, metric: str) -> list[str]:
    """The section: one row per group and compared value, one column per tuned value."""
    found = tested(found)
    if not found:
        return []
    columns = sorted({ident(a.at): a.at for a in found}.values(), key=sort_key)
    rows: dict[tuple[str, str], dict[str, AtValue]] = defaultdict(dict)
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    for a in found:
        row = (ident(a.group), ident(a.value))
        rows[row][ident(a.at)] = a
        group = ", ".join(f"{k}={fmt_value(v)}" for k, v in a.group) or "all runs"
        labels[row] = (group, a.cmp.label)
    out = [
        f"## Arms at the same `{select_key}`",
        "",
        f"The compared arms at each value of `{select_key}` both ran, paired by seed, with the "
        f"same learned-checks: mean difference of `{metric}` [95 % t interval] (usable pairs). "
        "A sensitivity check beside the tuned verdicts, not tested for them and not in the "
        "Holm family.",
        "",
    ]
    table = []
    for row, cells in rows.items():
        shown = []
        for c in columns:
            a = cells.get(ident(c))
            t = a.cmp.test if a is not None else None
            shown.append(
                f"{fmt_num(t.diff, metric, True)} [{fmt_num(t.ci_low, metric)}, "
                f"{fmt_num(t.ci_high, metric)}] ({len(a.cmp.usable)})"
                if t is not None
                else ""
            )
        table.append([*labels[row], *shown])
    out += md_table(
        ["group", "compared", *(f"{select_key}={fmt_value(c)}" for c in columns)], table
    )
    return [*out, ""]
