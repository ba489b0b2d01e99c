"""Verdicts: Holm's correction over the report's family of tests, then the words of each
comparison: helps, hurts, equivalent within ±δ, inconclusive, or identical runs."""

from __future__ import annotations

import math
from collections.abc import Sequence

from biaslab.report import stats
from biaslab.report.compare import MIN_PAIRS, Comparison
from biaslab.report.values import fmt_num, fmt_p, fmt_value, lower_is_better, scale

ALPHA = 0.05
# Default equivalence margins: 1 pt of accuracy; for a ratio to the trivial predictor's error,
# 0.05 of that error (5 % of what predicting a constant would cost).
ACC_MARGIN = 0.01
RATIO_MARGIN = 0.05


def default_margin(metric: str) -> float | None:
    if metric.endswith("_over_baseline"):
        return RATIO_MARGIN
    return ACC_MARGIN if scale(metric) == 100.0 else None


def fmt_margin(margin: float, metric: str) -> str:
    if scale(metric) == 100.0:
        return f"±{margin * 100:g} pt" + ("" if margin * 100 == 1 else "s")
    if metric.endswith("_over_baseline"):
        return f"±{margin:g} ({margin * 100:g} % of the trivial predictor's error)"
    return f"±{margin:g}"


def unit(metric: str) -> str:
    return " pts" if scale(metric) == 100.0 else ""


def fmt_equivalence(eq: stats.Equivalence, metric: str) -> str:
    """ "within ±δ: 90 % CI [lo, hi] (TOST p, Holm p)", as every equivalence verdict writes
    it."""
    return (
        f"within {fmt_margin(eq.margin, metric)}: 90 % CI [{fmt_num(eq.ci_low, metric)}, "
        f"{fmt_num(eq.ci_high, metric)}]{unit(metric)} (TOST {fmt_p(eq.p)}{fmt_holm(eq.p_holm)})"
    )


def fmt_holm(p_holm: float | None) -> str:
    return "" if p_holm is None or math.isnan(p_holm) else f", Holm {fmt_p(p_holm)}"


def equivalent(eq: stats.Equivalence | None) -> bool:
    """Shown equivalent after Holm's correction over the report's equivalence tests."""
    return eq is not None and eq.p_holm < ALPHA


def not_after_holm(eq: stats.Equivalence | None, family: int) -> str:
    """Why an interval inside the margin is no verdict: "" when it is not inside."""
    if eq is None or not eq.equivalent or equivalent(eq):
        return ""
    return (
        f"the 90 % CI lies inside the margin, but not after Holm over the {family} "
        f"equivalence tests (TOST {fmt_p(eq.p)}, Holm {fmt_p(eq.p_holm)})"
    )


def fmt_test(test: stats.PairedTest, metric: str, p_holm: float | None = None) -> str:
    holm = "" if p_holm is None or math.isnan(p_holm) else f" (Holm {fmt_p(p_holm)})"
    return (
        f"{fmt_num(test.diff, metric, sign=True)}{unit(metric)} [{fmt_num(test.ci_low, metric)}, "
        f"{fmt_num(test.ci_high, metric)}], {fmt_p(test.p)}{holm}"
    )


def family(comparisons: Sequence[Comparison]) -> list[tuple[Comparison, str]]:
    """Every test the report draws a conclusion from, in order: each paired t-test and, for
    solved/unsolved outcomes, each exact paired solve test. Identical runs are not tested, and a
    value whose runs are another value's (its twin) is that value's test, not a second one."""
    out = []
    for cmp in comparisons:
        if cmp.identical or cmp.twin is not None:
            continue
        if cmp.test is not None and len(cmp.usable) >= MIN_PAIRS:
            out.append((cmp, "t"))
        # a solve test with no discordant pair has nothing to test: it cannot reject
        if cmp.solve is not None and cmp.solve.only_value + cmp.solve.only_base > 0:
            out.append((cmp, "solve"))
    return out


def apply_holm(comparisons: Sequence[Comparison]) -> tuple[int, int]:
    """Holm-adjust every test of the family in place, and, as a family of their own, the
    equivalence tests of its t-tests; returns the two families' sizes."""
    tests = family(comparisons)
    raw = [cmp.test.p if kind == "t" else cmp.solve.p for cmp, kind in tests]
    for (cmp, kind), adj in zip(tests, stats.holm(raw), strict=True):
        if kind == "t":
            cmp.p_holm = adj
        else:
            cmp.solve.p_holm = adj
    eqs = [cmp for cmp, kind in tests if kind == "t" and cmp.equivalence is not None]
    adjusted = stats.holm_equivalences([cmp.equivalence for cmp in eqs])
    for cmp, eq in zip(eqs, adjusted, strict=True):
        cmp.equivalence = eq
        # Holm's first step tests at alpha/m: the seeds that level needs (an upper bound)
        if cmp.sd > 0:
            cmp.seeds_needed = stats.seeds_needed(
                cmp.sd, eq.margin, cmp.test.diff, alpha=ALPHA / len(eqs)
            )
    return len(tests), len(eqs)


def _robust_flag(cmp: Comparison, metric: str) -> str | None:
    """When the Wilcoxon test or the bootstrap interval disagrees with the t-test about
    whether the difference is 0 (raw p, before Holm), say so."""
    t_rejects = cmp.test.p < ALPHA
    disagree = []
    lo, hi = cmp.bootstrap
    if (lo > 0 or hi < 0) != t_rejects:
        disagree.append(
            f"BCa bootstrap 95 % CI [{fmt_num(lo, metric)}, {fmt_num(hi, metric)}]"
            + (" excludes 0" if lo > 0 or hi < 0 else " includes 0")
        )
    # with few pairs the signed-rank test cannot reject at all: that is no disagreement
    if stats.wilcoxon_floor(len(cmp.usable)) < ALPHA and (cmp.wilcoxon_p < ALPHA) != t_rejects:
        disagree.append(f"Wilcoxon {fmt_p(cmp.wilcoxon_p)}")
    if not disagree:
        return None
    t = "rejects" if t_rejects else "does not reject"
    return f"robust checks disagree: the t-test {t} 0 ({fmt_p(cmp.test.p)}), " + "; ".join(disagree)


def kind_of(cmp: Comparison, metric: str) -> tuple[str, str]:
    """(kind, basis) of a comparison after :func:`apply_holm`: kind is identical, helps, hurts,
    equivalent or inconclusive; basis names the evidence the verdict rests on (``identical``,
    ``twin``, ``few pairs``, ``t``, ``solve``, ``equivalence`` or ``undecided``)."""
    if cmp.identical:
        return "identical", "identical"
    if cmp.twin is not None:  # decided already: it comes earlier in the same group
        return cmp.twin.kind, "twin"
    solve = cmp.solve
    solved = solve is not None and solve.p_holm < ALPHA  # nan (not in the family) is not
    solve_kind = "helps" if solved and solve.only_value > solve.only_base else "hurts"
    if len(cmp.usable) < MIN_PAIRS or cmp.test is None:
        return (solve_kind, "solve") if solved else ("inconclusive", "few pairs")
    if cmp.p_holm < ALPHA:
        return ("helps" if better(cmp.test.diff, metric) else "hurts"), "t"
    if solved:
        return solve_kind, "solve"
    if equivalent(cmp.equivalence):
        return "equivalent", "equivalence"
    return "inconclusive", "undecided"


def better(diff: float, metric: str) -> bool:
    return diff < 0 if lower_is_better(metric) else diff > 0


def decide(cmp: Comparison, metric: str, margin: float | None, eq_family: int = 0) -> None:
    """Set ``cmp.kind``, ``cmp.verdict`` and ``cmp.flags`` (after :func:`apply_holm`, whose
    equivalence family has ``eq_family`` tests)."""
    cmp.kind, basis = kind_of(cmp, metric)
    if basis == "identical":
        cmp.verdict = (
            f"identical runs: every metric of all {cmp.n_pairs} pairs is bit-identical "
            "(not tested, not in the family)"
        )
        return
    if basis == "twin":
        cmp.verdict = (
            f"the same runs as `{fmt_value(cmp.twin.value)}` (every metric bit-identical), "
            f"so its verdict, not tested again: {cmp.twin.verdict}"
        )
        return
    tested = cmp.test is not None and len(cmp.usable) >= MIN_PAIRS
    if tested:
        flag = _robust_flag(cmp, metric)
        if flag:
            cmp.flags.append(flag)
    cmp.verdict = _words(cmp, basis, metric, margin, eq_family)
    if tested and basis != "solve":
        _flag_exclusion(cmp, metric, cmp.test.diff > 0 if basis == "t" else None)


def _fmt_solve(cmp: Comparison) -> str:
    solve = cmp.solve
    if solve is None:
        return ""
    return (
        f"; solved {solve.solved}/{solve.n} vs {solve.solved_base}/{solve.n}, exact paired "
        f"{fmt_p(solve.p)}" + ("" if math.isnan(solve.p_holm) else f" (Holm {fmt_p(solve.p_holm)})")
    )


def _few_pairs(cmp: Comparison) -> str:
    n_bad = len(cmp.not_learned)
    if cmp.n_pairs and n_bad == cmp.n_pairs:
        return f"no pair where both arms learned ({n_bad} of {cmp.n_pairs} did not learn)"
    why = f"{len(cmp.usable)} usable pairs, need {MIN_PAIRS}"
    return why + (f" ({n_bad} of {cmp.n_pairs} did not learn)" if n_bad else "")


def _words(cmp: Comparison, basis: str, metric: str, margin: float | None, family: int) -> str:
    """The verdict's sentence: its kind, then the evidence that decided it."""
    solve_text = _fmt_solve(cmp)
    if cmp.test is None or len(cmp.usable) < MIN_PAIRS:
        why = _few_pairs(cmp)
        if basis == "solve":
            return f"{cmp.label} {cmp.kind} (solve rate): {why}{solve_text}"
        return f"inconclusive: {why}{solve_text}"
    n_bad = len(cmp.not_learned)
    excluded = f"; {n_bad} of {cmp.n_pairs} pairs did not learn, excluded" if n_bad else ""
    shown = fmt_test(cmp.test, metric, cmp.p_holm) + excluded + solve_text
    if basis == "t":
        return f"{cmp.label} {cmp.kind}: {shown}"
    if basis == "solve":
        return f"{cmp.label} {cmp.kind} (solve rate): {shown}"
    if basis == "equivalence":
        return f"equivalent {fmt_equivalence(cmp.equivalence, metric)}; {shown}"
    need = _seeds_needed(cmp, metric, margin)
    short = not_after_holm(cmp.equivalence, family)
    return f"inconclusive: {shown}; " + (f"{short}; {need}" if short else need)


def _seeds_needed(cmp: Comparison, metric: str, margin: float | None) -> str:
    if margin is None:
        return "no equivalence margin for this metric (give --margin)"
    if cmp.seeds_needed is not None:
        return (
            f"{fmt_margin(margin, metric)} needs ≈ {cmp.seeds_needed} seeds at 80 % power "
            "(TOST at Holm's first-step level, at the observed difference)"
        )
    if cmp.test is not None and abs(cmp.test.diff) < margin:
        return f"{fmt_margin(margin, metric)} needs more than {stats.SEEDS_LIMIT:,} seeds"
    # the observed difference is at or past the margin
    return f"no number of seeds shows {fmt_margin(margin, metric)} at the observed difference"


def _flag_exclusion(cmp: Comparison, metric: str, positive: bool | None) -> None:
    """Where pairs that did not learn were left out: flag a verdict the all-pairs test does
    not bear out (``positive``: the sign of a helps/hurts difference; None for the others,
    flagged only when the arms differ in how often they learned)."""
    if cmp.all_pairs is None:
        return
    n_bad = len(cmp.not_learned)
    t = cmp.all_pairs
    kept = (
        f"with the {n_bad} excluded pair{'s' if n_bad > 1 else ''} kept the difference is "
        f"{fmt_test(t, metric)}"
    )
    if positive is not None and (t.ci_high < 0 if positive else t.ci_low > 0):
        cmp.flags.append(f"{kept}: the other way ({fmt_did_not_learn(cmp)})")
    elif positive is not None and t.ci_low <= 0 <= t.ci_high:
        them = "them" if n_bad > 1 else "it"
        cmp.flags.append(
            f"{kept}: this verdict rests on leaving {them} out ({fmt_did_not_learn(cmp)})"
        )
    elif cmp.did_not_learn[2] < ALPHA:
        cmp.flags.append(
            f"the arms differ in how often they learn ({fmt_did_not_learn(cmp)}); {kept}"
        )


def fmt_did_not_learn(cmp: Comparison) -> str:
    """ "did not learn: `value` 1/5, baseline 0/5, exact paired p=1"."""
    value, base, p = cmp.did_not_learn
    n = cmp.n_pairs
    return (
        f"did not learn: `{fmt_value(cmp.value)}` {value}/{n}, baseline {base}/{n}, "
        f"exact paired {fmt_p(p)}"
    )
