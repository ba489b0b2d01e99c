"""One compared value against the baseline, paired by seed: which pairs count, and every test
run on them (the verdict's words come later, once the whole family's p values are known)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biaslab.report import stats
from biaslab.report.learned import TRIVIAL_CUTOFF
from biaslab.report.load import Run
from biaslab.report.values import fmt_value, ident

# Fewer usable pairs than this: no verdict but "inconclusive" (a t interval on 2 pairs has 1
# degree of freedom, and the signed-rank test cannot reject with fewer than 6).
MIN_PAIRS = 3


@dataclass
class SolveTest:
    """Solved / not solved (``*_over_baseline`` below the cutoff) per arm, and the exact
    paired test on the seeds where exactly one arm solved the task."""

    solved: int  # this value's seeds that solved it, among the paired seeds
    solved_base: int
    n: int
    ci: tuple[float, float]  # Clopper-Pearson 95 % interval of the solve rate
    ci_base: tuple[float, float]
    only_value: int  # discordant pairs
    only_base: int
    p: float
    p_holm: float = math.nan


@dataclass
class Comparison:
    """One non-baseline value against the baseline, paired by seed."""

    value: Any
    label: str  # "bias", "forget_bias=2": how the verdict names the value
    diffs: dict[Any, float]  # value − baseline per paired seed, usable or not
    usable: list[Any]  # paired seeds where both runs learned
    not_learned: list[tuple[Any, str]]  # (seed, who did not learn and why) per excluded pair
    only_value: list[Any]  # seeds run with this value only
    only_baseline: list[Any]  # seeds run with the baseline only
    identical: bool = False  # every pair's runs bit-identical: not tested
    test: stats.PairedTest | None = None
    p_holm: float = math.nan
    sd: float = math.nan  # SD of the usable paired differences
    wilcoxon_p: float = math.nan
    bootstrap: tuple[float, float] | None = None
    equivalence: stats.Equivalence | None = None
    seeds_needed: int | None = None
    solve: SolveTest | None = None
    kind: str = ""  # helps / hurts / equivalent / inconclusive / identical
    verdict: str = ""
    flags: list[str] = field(default_factory=list)  # e.g. the robust checks disagree
    twin: Comparison | None = None  # an earlier value whose runs are these, bit for bit
    # where pairs were excluded: the t-test over every paired seed (a sensitivity check), and
    # (value, baseline, exact paired p) of the runs that did not learn per arm
    all_pairs: stats.PairedTest | None = None
    did_not_learn: tuple[int, int, float] | None = None

    @property
    def n_pairs(self) -> int:
        return len(self.diffs)


def identical_pairs(value_runs: dict, base_runs: dict, seeds: list) -> bool:
    """The rule for "identical runs": every paired seed's runs recorded exactly the same
    metrics (every key, bit for bit) and the same parameter count. Two arms that the bias rule
    resolves to one model (``auto`` = ``false`` under batch norm) give this."""

    def fingerprint(runs: list[Run]) -> set[str]:
        return {ident([r.metrics, r.params.get("params/total")]) for r in runs}

    return bool(seeds) and all(
        fingerprint(value_runs[s]) == fingerprint(base_runs[s]) for s in seeds
    )


def _why_not_learned(roles, seed: Any, failed: dict[int, str]) -> str:
    """Why seed's runs in each role (arm name, runs by seed) did not learn: "" if they did."""
    return "; ".join(
        f"`{role}` ({run.source}): {failed[id(run)]}"
        for role, runs in roles
        for run in runs[seed]
        if id(run) in failed
    )


def compare(
    value: Any,
    label: str,
    by_seed: dict[Any, float],
    base_by_seed: dict[Any, float],
    value_runs: dict[Any, list[Run]],
    base_runs: dict[Any, list[Run]],
    failed: dict[int, str],
    metric: str,
    margin: float | None,
    base_name: str = "baseline",
) -> Comparison:
    """``failed`` maps id(run) to why that run did not learn."""
    paired = [s for s in by_seed if s in base_by_seed]
    cmp = Comparison(
        value,
        label,
        {s: by_seed[s] - base_by_seed[s] for s in paired},
        [],
        [],
        [s for s in by_seed if s not in base_by_seed],
        [s for s in base_by_seed if s not in by_seed],
    )
    if identical_pairs(value_runs, base_runs, paired):
        cmp.identical = True
        return cmp
    roles = ((fmt_value(value), value_runs), (base_name, base_runs))
    for s in paired:
        whys = _why_not_learned(roles, s, failed)
        if whys:
            cmp.not_learned.append((s, whys))
        else:
            cmp.usable.append(s)
    if cmp.not_learned and len(paired) >= 2:
        cmp.all_pairs = stats.paired_test(
            [by_seed[s] for s in paired], [base_by_seed[s] for s in paired]
        )
        value_bad = [any(id(r) in failed for r in value_runs[s]) for s in paired]
        base_bad = [any(id(r) in failed for r in base_runs[s]) for s in paired]
        _, _, p = stats.paired_solve_test(value_bad, base_bad)
        cmp.did_not_learn = (sum(value_bad), sum(base_bad), p)
    if len(cmp.usable) >= 2:
        d = np.array([cmp.diffs[s] for s in cmp.usable])
        cmp.test = stats.paired_test(
            [by_seed[s] for s in cmp.usable], [base_by_seed[s] for s in cmp.usable]
        )
        cmp.sd = float(d.std(ddof=1))
        cmp.wilcoxon_p = stats.wilcoxon_p(d)
        cmp.bootstrap = stats.bootstrap_ci(d)
        if margin is not None:
            cmp.equivalence = stats.tost(d, margin)  # seeds_needed: with Holm's family
    if metric.endswith("_over_baseline") and paired:
        cmp.solve = _solve_test(
            [by_seed[s] < TRIVIAL_CUTOFF for s in paired],
            [base_by_seed[s] < TRIVIAL_CUTOFF for s in paired],
        )
    return cmp


def _solve_test(value: list[bool], base: list[bool]) -> SolveTest:
    n = len(value)
    only_v, only_b, p = stats.paired_solve_test(value, base)
    return SolveTest(
        sum(value),
        sum(base),
        n,
        stats.solve_rate(sum(value), n),
        stats.solve_rate(sum(base), n),
        only_v,
        only_b,
        p,
    )
