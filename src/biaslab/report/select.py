"""Tuned comparison: each arm at its own best value of a tuned key (``--select optimizer.lr
--by val/acc_best``), chosen on validation only, before the arms are compared on test.

Within one group (the runs that agree on every swept key but the compared key, the selected
key and the seed) and one arm (one value of the compared key), every value of the selected
key is scored by the mean of the ``by`` metric over its runs. The rule, in order:

1. fewer *failed* runs is better: a run that did not complete (diverged, failed), has no
   finite ``by`` value, or did not learn by ``by`` (an accuracy within the learned-check's
   margin of chance, a ``*_over_baseline`` ratio at or above its cutoff: the learned-check
   of :mod:`biaslab.report.learned`, read on validation) counts as failed, so a learning
   rate at which a seed blows up or stays at chance loses to one at which none does;
2. then the better mean ``by`` value over the runs that did not fail (higher or lower, from
   the metric's name), then over every finite value (where every run of every value failed);
3. then, on an exact tie, the value that comes first in sorted order (the smallest).

The test metric is never read here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from biaslab.report.learned import at_chance
from biaslab.report.load import Run
from biaslab.report.values import fmt_value, ident, lower_is_better, metric_value, sort_key

TIE_RULE = (
    "fewest failed runs (not completed, no finite value, or an accuracy or `*_over_baseline` "
    "value at chance: the learned-check read on validation) first, then the best mean over the "
    "runs that did not fail, then the best mean over every finite value, then on an exact tie "
    "the smallest value"
)


@dataclass
class Candidate:
    """One value of the selected key within one arm of one group."""

    value: Any
    n: int  # runs
    failed: int  # runs that did not complete, have no finite ``by`` value, or sit at chance
    mean: float  # mean ``by`` over the other runs (nan when none)
    # mean over every finite value, chance included: orders values whose runs all failed
    mean_all: float = math.nan


@dataclass
class Selection:
    """The selected key's value chosen for one arm of one group."""

    group: tuple[tuple[str, Any], ...]  # (key, value) of the group, as in analysis.Group.key
    arm: Any  # the compared key's value
    candidates: list[Candidate] = field(default_factory=list)  # the grid, sorted
    chosen: Any = None

    @property
    def at_edge(self) -> bool:
        """Chosen at the smallest or largest value of a grid of 3 or more: the best value may
        lie outside the grid."""
        values = [ident(c.value) for c in self.candidates]
        return len(values) >= 3 and ident(self.chosen) in (values[0], values[-1])

    @property
    def group_label(self) -> str:
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in self.group) or "all runs"


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def score(
    runs: Sequence[Run], by: str, classes: Callable[[Run], int | None] = lambda r: None
) -> tuple[int, float, float]:
    """(failed runs, mean ``by`` over the others, mean over every finite value) of one
    candidate's runs; ``classes`` gives a run's number of classes (its chance level)."""
    finite, good = [], []
    for r in runs:
        v = metric_value(by, r.metrics.get(by)) if r.status == "completed" else None
        if v is not None:
            finite.append(v)
            if not at_chance(v, by, classes(r)):
                good.append(v)
    return len(runs) - len(good), _mean(good), _mean(finite)


def choose(candidates: Sequence[Candidate], by: str) -> Any:
    """The chosen value among ``candidates`` by the module's rule."""
    lower = lower_is_better(by)

    def signed(mean: float) -> float:  # smaller is better; nan is worst
        if math.isnan(mean):
            return math.inf
        return mean if lower else -mean

    def rank(c: Candidate) -> tuple:
        return (c.failed, signed(c.mean), signed(c.mean_all), sort_key(c.value))

    return min(candidates, key=rank).value


def select(
    runs: Sequence[Run],
    compare: str,
    key: str,
    by: str,
    group_keys: Sequence[str],
    classes: Callable[[Run], int | None] = lambda r: None,
) -> list[Selection]:
    """One :class:`Selection` per (group, arm) among ``runs`` (every run with the compared
    key, usable on the test metric or not: a diverged run counts against its value);
    ``classes`` as in :func:`score`."""
    cells: dict[tuple[tuple[str, ...], str], dict[str, list[Run]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in runs:
        if compare not in r.config:
            continue
        group = tuple(ident(r.config.get(k)) for k in group_keys)
        cells[(group, ident(r.config[compare]))][ident(r.config.get(key))].append(r)
    out = []
    for by_value in cells.values():
        first = next(iter(by_value.values()))[0]
        sel = Selection(tuple((k, first.config.get(k)) for k in group_keys), first.config[compare])
        for rs in by_value.values():
            failed, mean, mean_all = score(rs, by, classes)
            sel.candidates.append(Candidate(rs[0].config.get(key), len(rs), failed, mean, mean_all))
        sel.candidates.sort(key=lambda c: sort_key(c.value))
        sel.chosen = choose(sel.candidates, by)
        out.append(sel)
    out.sort(key=lambda s: ([sort_key(v) for _, v in s.group], sort_key(s.arm)))
    return out


def keep_selected(
    runs: Sequence[Run],
    selections: Sequence[Selection],
    compare: str,
    key: str,
    group_keys: Sequence[str],
) -> list[Run]:
    """The runs of ``runs`` at their (group, arm)'s chosen value of ``key``."""
    chosen = {
        (tuple(ident(v) for _, v in s.group), ident(s.arm)): ident(s.chosen) for s in selections
    }
    return [
        r
        for r in runs
        if chosen.get((tuple(ident(r.config.get(k)) for k in group_keys), ident(r.config[compare])))
        == ident(r.config.get(key))
    ]
