"""Does the gain depend on another swept key? The interaction of the compared key with
``key``: per seed, (value − baseline at key=k) − (value − baseline at key=reference), tested
like any paired difference, with its own Holm family."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from biaslab.report import stats
from biaslab.report.analysis import Group, choose_baseline
from biaslab.report.compare import MIN_PAIRS, Comparison
from biaslab.report.markdown import n_tests
from biaslab.report.values import fmt_num, fmt_p, fmt_value, ident, lower_is_better
from biaslab.report.verdict import (
    ALPHA,
    equivalent,
    fmt_equivalence,
    fmt_margin,
    fmt_test,
    not_after_holm,
    unit,
)


@dataclass
class Interaction:
    """The compared value's gain at ``key=level`` minus its gain at ``key=reference``, in one
    context (the values of the other grouping keys), paired by seed."""

    key: str
    level: Any
    reference: Any
    label: str  # the compared value as the verdicts name it ("first_bias")
    context: str  # "model.width=16" or "all runs"
    diffs: dict[Any, float]  # per seed usable at both levels
    test: stats.PairedTest | None = None
    equivalence: stats.Equivalence | None = None
    p_holm: float = math.nan
    wilcoxon_p: float = math.nan  # the signed-rank check beside the t-test
    kind: str = ""  # larger / smaller / same / inconclusive
    verdict: str = ""


def parse(option: str) -> tuple[str, str | None]:
    """``KEY`` or ``KEY=REFERENCE`` (the reference level as the report writes values)."""
    key, _, ref = option.partition("=")
    return key, (ref if ref else None)


def interactions(
    groups: Sequence[Group],
    group_keys: Sequence[str],
    key: str,
    reference: str | None,
    metric: str,
    margin: float | None,
) -> tuple[list[Interaction], list[str]]:
    """Every (context, level, compared value) of ``key`` against its reference level, Holm-
    corrected as one family, and why any other was not tested; ValueError when ``key`` is not
    one of the grouping keys."""
    if key not in group_keys:
        swept = ", ".join(group_keys) or "none"
        raise ValueError(
            f"--interaction {key}: must be a swept key the report groups by (grouped by: {swept})"
        )
    levels = list({ident(v): v for g in groups for k, v in g.key if k == key}.values())
    try:
        ref = choose_baseline(levels, reference)
    except ValueError:
        shown = ", ".join(fmt_value(v) for v in levels)
        raise ValueError(
            f"--interaction {key}={reference}: the reference is not among its values ({shown})"
        ) from None
    contexts: dict[str, dict[str, Group]] = defaultdict(dict)
    for g in groups:
        rest = ", ".join(f"{k}={fmt_value(v)}" for k, v in g.key if k != key) or "all runs"
        contexts[rest][ident(dict(g.key)[key])] = g
    out: list[Interaction] = []
    skipped: list[str] = []
    for context, by_level in contexts.items():
        base = by_level.get(ident(ref))
        if base is None:
            skipped.append(f"{context}: no runs at `{key}={fmt_value(ref)}` (the reference)")
            continue
        base_cmps = {ident(c.value): c for c in base.comparisons}
        for level_id, g in by_level.items():
            if level_id == ident(ref):
                continue
            level = dict(g.key)[key]
            for cmp in g.comparisons:
                other = base_cmps.get(ident(cmp.value))
                if other is None:
                    skipped.append(
                        f"{context}: `{fmt_value(cmp.value)}` only at `{key}={fmt_value(level)}`"
                        f", not at `{fmt_value(ref)}`"
                    )
                elif cmp.identical and other.identical:
                    skipped.append(
                        f"{context}, `{key}={fmt_value(level)}`: `{fmt_value(cmp.value)}` is the "
                        "baseline's runs at both levels (no gain to compare)"
                    )
                elif not _same_twin(cmp, other):
                    out.append(_interaction(key, level, ref, cmp, other, context, margin))
    _holm_and_decide(out, metric, margin)
    return out, skipped


def _same_twin(cmp: Comparison, other: Comparison) -> bool:
    """At both levels the runs of another value, the same one: its interaction is this one."""
    return (
        cmp.twin is not None
        and other.twin is not None
        and ident(cmp.twin.value) == ident(other.twin.value)
    )


def _interaction(
    key: str,
    level: Any,
    ref: Any,
    cmp: Comparison,
    ref_cmp: Comparison,
    context: str,
    margin: float | None,
) -> Interaction:
    # identical arms were not tested, but their gain is known: 0 for every paired seed
    both = set(_seeds(ref_cmp))
    usable = [s for s in _seeds(cmp) if s in both]
    at_level = [cmp.diffs[s] for s in usable]
    at_ref = [ref_cmp.diffs[s] for s in usable]
    diffs = {s: a - b for s, a, b in zip(usable, at_level, at_ref, strict=True)}
    it = Interaction(key, level, ref, cmp.label, context, diffs)
    if len(usable) >= 2:
        it.test = stats.paired_test(at_level, at_ref)
        it.wilcoxon_p = stats.wilcoxon_p(list(diffs.values()))
        if margin is not None:
            it.equivalence = stats.tost(list(diffs.values()), margin)
    return it


def _seeds(cmp: Comparison) -> list[Any]:
    return list(cmp.diffs) if cmp.identical else cmp.usable


def _holm_and_decide(found: list[Interaction], metric: str, margin: float | None) -> None:
    tested = [it for it in found if it.test is not None and len(it.diffs) >= MIN_PAIRS]
    for it, adj in zip(tested, stats.holm([it.test.p for it in tested]), strict=True):
        it.p_holm = adj
    eqs = [it for it in tested if it.equivalence is not None]
    for it, eq in zip(eqs, stats.holm_equivalences([it.equivalence for it in eqs]), strict=True):
        it.equivalence = eq
    lower = lower_is_better(metric)
    for it in found:
        level, ref = f"`{it.key}={fmt_value(it.level)}`", f"`{fmt_value(it.reference)}`"
        where = f"at {level} than at {ref}"
        if it not in tested:
            it.kind = "inconclusive"
            usable = len(it.diffs)
            it.verdict = f"inconclusive: {usable} seeds usable at both levels, need {MIN_PAIRS}"
            continue
        shown = (
            fmt_test(it.test, metric, it.p_holm) + f"; Wilcoxon signed-rank {fmt_p(it.wilcoxon_p)}"
        )
        ranked = sum(d != 0 for d in it.diffs.values())  # the signed-rank test drops zeros
        floor = stats.wilcoxon_floor(ranked)
        if floor >= ALPHA:  # too few pairs for the signed-rank test to reject at all
            shown += f" (the smallest possible with {ranked} pairs is {floor:.2g})"
        elif it.p_holm < ALPHA and it.wilcoxon_p >= ALPHA:
            shown += " (does not agree that it differs from 0)"
        eq = it.equivalence
        if it.p_holm < ALPHA:
            larger = it.test.diff > 0
            it.kind = "larger" if larger else "smaller"
            # says which level the value fares better at, whether it helps or hurts at either
            better = "more" if larger != lower else "less"
            it.verdict = f"the effect of `{it.label}` is {better} favourable {where}: {shown}"
        elif equivalent(eq):
            it.kind = "same"
            it.verdict = (
                f"the same gain at {level} as at {ref} {fmt_equivalence(eq, metric)}; {shown}"
            )
        else:
            it.kind = "inconclusive"
            bound = (
                f"90 % CI [{fmt_num(eq.ci_low, metric)}, {fmt_num(eq.ci_high, metric)}]"
                f"{unit(metric)} not inside {fmt_margin(margin, metric)}"
                if eq is not None and margin is not None
                else "no equivalence margin for this metric (give --margin)"
            )
            bound = not_after_holm(eq, len(eqs)) or bound
            it.verdict = f"inconclusive, gain at {level} minus gain at {ref}: {shown}; {bound}"


def render(key: str | None, found: Sequence[Interaction], skipped: Sequence[str]) -> list[str]:
    """The report's section on the interaction (none without --interaction)."""
    if key is None:
        return []
    if not found:
        lines = [f"- {why}" for why in skipped] or ["- no group to compare"]
        return [f"## Interaction with `{key}`", "", "Nothing to test:", "", *lines, ""]
    key, ref = found[0].key, fmt_value(found[0].reference)
    out = [
        f"## Interaction with `{key}`",
        "",
        f"Does the gain depend on `{key}`? Per seed: the gain (value − baseline) at each level "
        f"of `{key}` minus the gain at `{key}={ref}`, in each group of the other keys, over "
        f"the seeds usable at both levels; a paired t-test with Holm's correction over the "
        f"{n_tests(sum(not math.isnan(it.p_holm) for it in found))} here (a separate family, "
        "not corrected jointly with the verdicts above), and "
        'TOST at the report\'s margin for "the same gain", Holm-corrected over the '
        + n_tests(
            sum(not math.isnan(it.equivalence.p_holm) for it in found if it.equivalence),
            "equivalence",
        )
        + " as a separate family.",
        "",
    ]
    for it in found:
        out.append(f"- **{it.context}**, `{it.key}={fmt_value(it.level)}` − `{ref}`: {it.verdict}")
    if skipped:
        out += ["", "Not tested:", "", *(f"- {why}" for why in skipped)]
    return [*out, ""]
