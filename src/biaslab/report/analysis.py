"""Runs into groups, arms and paired comparisons."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biaslab.report.compare import Comparison, identical_pairs
from biaslab.report.compare import compare as compare_arms
from biaslab.report.load import Run
from biaslab.report.values import fmt_value, ident, sort_key, why_not_a_value

# Keys that differ between runs without being part of the experiment's design.
IGNORED_KEYS = {
    "seed",
    "data.shuffle_seed",
    "trainer.default_root_dir",
    "data.data_dir",
    "tags",
    "task_name",
    "resume",  # how a run was continued or replaced, not what it ran
    "overwrite",
    # one fused kernel or torch's loop: the same update, apart in rounding only (as packing)
    "optimizer.fused",
    "train.steps_per_call",  # how the steps are grouped into Lightning calls: the same steps
    # when last.ckpt is written: the run learns the same (tests/test_reliability.py)
    "checkpoint.every_n_steps",
    "checkpoint.at_end",
}
IGNORED_PREFIXES = ("paths.", "logger.", "hydra.", "train.parallel_", "_")
WIDTH = "model.width"


def is_ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES)


def swept_keys(runs: Sequence[Run]) -> list[str]:
    """Config keys whose values differ across runs (a key missing from a run counts as a
    value), apart from those that differ for bookkeeping reasons."""
    keys = sorted({k for r in runs for k in r.config if not is_ignored(k)})
    return [k for k in keys if len({ident(r.config.get(k, "<missing>")) for r in runs}) > 1]


def why_unusable(run: Run, metric: str, compare: str) -> str | None:
    if run.status != "completed":
        return run.error or f"status {run.status}"
    if compare not in run.config:
        return f"config has no {compare}"
    if run.seed is None:
        return "no seed"
    if isinstance(run.seed, bool) or not isinstance(run.seed, int):
        return f"seed = {ident(run.seed)}: not an integer"
    value = run.metrics.get(metric)
    if value is None:
        if metric in run.metrics and "steps_to" in metric:
            return f"{metric} is null: the threshold was never reached"
        return f"no {metric} in metrics"
    return why_not_a_value(metric, value)


def choose_baseline(values: Sequence[Any], given: str | None) -> Any:
    """``--baseline`` if given, else ``false`` for booleans, else the first value in order."""
    if given is not None:
        for v in values:
            if fmt_value(v) == given:
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                try:
                    if float(given) == v:
                        return v
                except ValueError:
                    pass
        shown = ", ".join(fmt_value(v) for v in values)
        raise ValueError(f"--baseline {given} is not among the compared values ({shown})")
    if any(v is False for v in values):
        return False
    return sorted(values, key=sort_key)[0]


@dataclass
class Arm:
    """The runs of one compared value within a group."""

    value: Any
    by_seed: dict[Any, float]  # metric per seed; repeated runs of a seed (--pool) are averaged
    duplicates: list[Any]
    params_total: list[float]
    params_bias: list[float]
    runs: dict[Any, list[Run]] = field(default_factory=dict)  # per seed

    @property
    def n(self) -> int:
        return len(self.by_seed)

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.by_seed.values())))

    @property
    def std(self) -> float:
        return float(np.std(list(self.by_seed.values()), ddof=1)) if self.n > 1 else math.nan


@dataclass
class Group:
    key: tuple[tuple[str, Any], ...]  # (swept key, value) for every key but compare and seed
    arms: list[Arm]
    comparisons: list[Comparison]
    note: str | None = None  # why there is nothing to compare
    batch_norm: bool = False  # every run has a batch norm after each conv

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in self.key) or "all runs"


def _arm(value: Any, runs: Sequence[Run], metric: str) -> Arm:
    per_seed: dict[Any, list[Run]] = defaultdict(list)
    for r in runs:
        per_seed[r.seed].append(r)
    seeds = sorted(per_seed, key=sort_key)

    def counts(name: str) -> list[float]:
        return [float(r.params[name]) for r in runs if r.params.get(name) is not None]

    return Arm(
        value,
        {s: float(np.mean([float(r.metrics[metric]) for r in per_seed[s]])) for s in seeds},
        [s for s in seeds if len(per_seed[s]) > 1],
        counts("params/total"),
        counts("params/bias"),
        {s: per_seed[s] for s in seeds},
    )


def _label(compare: str, value: Any, baseline: Any) -> str:
    leaf = compare.rsplit(".", 1)[-1]
    return leaf if value is True and baseline is False else f"{leaf}={fmt_value(value)}"


def analyze(
    runs: Sequence[Run],
    compare: str,
    metric: str,
    baseline: Any,
    group_keys: Sequence[str],
    failed: dict[int, str] | None = None,
    margin: float | None = None,
) -> list[Group]:
    """Groups of runs that agree on every swept key but ``compare``; in each, every value
    compared with the baseline. ``failed`` maps id(run) to why that run did not learn."""
    buckets: dict[tuple[str, ...], list[Run]] = defaultdict(list)
    for r in runs:
        buckets[tuple(ident(r.config.get(k)) for k in group_keys)].append(r)
    groups = []
    for members in buckets.values():
        key = tuple((k, members[0].config.get(k)) for k in group_keys)
        by_value: dict[str, list[Run]] = defaultdict(list)
        for r in members:
            by_value[ident(r.config[compare])].append(r)
        values = sorted((rs[0].config[compare] for rs in by_value.values()), key=sort_key)
        # Baseline first, so that tables read "baseline, then what is compared to it".
        values.sort(key=lambda v: ident(v) != ident(baseline))
        arms = [_arm(v, by_value[ident(v)], metric) for v in values]
        comparisons, note = _comparisons(arms, compare, metric, baseline, failed or {}, margin)
        group = Group(key, arms, comparisons, note)
        group.batch_norm = all(r.config.get("model.norm") == "batch" for r in members)
        groups.append(group)
    groups.sort(key=lambda g: [sort_key(v) for _, v in g.key])
    return groups


def _comparisons(
    arms: list[Arm],
    compare: str,
    metric: str,
    baseline: Any,
    failed: dict[int, str],
    margin: float | None,
) -> tuple[list[Comparison], str | None]:
    base = arms[0] if ident(arms[0].value) == ident(baseline) else None
    if base is None:
        return [], f"no runs with {compare}={fmt_value(baseline)} (the baseline) in this group"
    if len(arms) == 1:
        return [], f"only {compare}={fmt_value(baseline)} in this group: nothing to compare"
    out = [
        compare_arms(
            arm.value,
            _label(compare, arm.value, baseline),
            arm.by_seed,
            base.by_seed,
            arm.runs,
            base.runs,
            failed,
            metric,
            margin,
            fmt_value(baseline),
        )
        for arm in arms[1:]
    ]
    # Two values that build the same model (auto and true without a norm) would put one test
    # into the family twice: the later one is marked as the earlier one's twin instead.
    for i, arm in enumerate(arms[1:]):
        for j, other in enumerate(arms[1 : i + 1]):
            same_seeds = set(arm.runs) == set(other.runs)
            if (
                same_seeds
                and out[j].twin is None
                and identical_pairs(arm.runs, other.runs, list(arm.runs))
            ):
                out[i].twin = out[j]
                break
    return out, None
