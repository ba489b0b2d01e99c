"""The whole report from a list of runs: which runs count, the groups, the family's Holm
correction and every verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from biaslab.records.added import complete
from biaslab.records.results import UNSEALED
from biaslab.report import interaction, learned, same_value
from biaslab.report.analysis import Group, analyze, choose_baseline, swept_keys, why_unusable
from biaslab.report.load import Run
from biaslab.report.provenance import edit_evidence, provenance
from biaslab.report.select import Selection, keep_selected, select
from biaslab.report.sources import check_sources
from biaslab.report.values import fmt_value, ident
from biaslab.report.verdict import apply_holm, decide, default_margin


@dataclass
class Report:
    command: str
    compare: str
    metric: str
    baseline: Any
    n_runs: int
    swept: list[str]
    group_keys: list[str]
    groups: list[Group]
    problems: list[tuple[str, str, str]]  # (source, status, why it was not used)
    plots: list[Path] = field(default_factory=list)
    plot_note: str = ""
    provenance: list[str] = field(default_factory=list)  # lines of the Provenance section
    sweeps: list[str] = field(default_factory=list)  # commands that launched the runs
    margin: float | None = None  # equivalence margin, raw metric units
    classes: dict[int, int] = field(default_factory=dict)  # chance levels used: classes → runs
    not_learned: int = 0  # usable runs that did not learn
    family_size: int = 0  # tests Holm's correction runs over
    eq_family_size: int = 0  # equivalence tests, Holm-corrected as a family of their own
    pool: bool = False
    sources: list[str] = field(default_factory=list)  # lines: seeds per sweep
    select: str | None = None  # the key tuned per arm (--select), chosen on ``by``
    by: str | None = None
    selections: list[Selection] = field(default_factory=list)  # per group and arm
    interaction_key: str | None = None  # --interaction's KEY
    interactions: list[interaction.Interaction] = field(default_factory=list)
    interactions_skipped: list[str] = field(default_factory=list)  # why, per context or value
    # the arms at each value of the tuned key both ran (--select): a sensitivity check
    at_same_value: list[same_value.AtValue] = field(default_factory=list)
    edit_evidence: str | None = None  # records' digests: matching, absent, modified

    @property
    def comparisons(self):
        return [c for g in self.groups for c in g.comparisons]


@dataclass(frozen=True)
class ReportOptions:
    """What a report compares and how (the command line's flags).

    ``margin`` in raw metric units (default: :func:`default_margin`); ``classes`` overrides the
    number of classes read from each run's data module (the chance level). ``select_key`` and
    ``by``: compare each arm at its own best value of ``select_key`` by the mean validation
    metric ``by`` (:mod:`biaslab.report.select`), per group. ``interaction_key``: ``KEY`` or
    ``KEY=REFERENCE``, a grouping key whose levels the gain is compared across
    (:mod:`biaslab.report.interaction`)."""

    compare: str = "model.bias"
    metric: str = "test/acc"
    baseline: str | None = None
    command: str = ""
    margin: float | None = None
    classes: int | None = None
    pool: bool = False
    select_key: str | None = None
    by: str | None = None
    interaction_key: str | None = None


def _with_added_keys(runs: Sequence[Run]) -> list[Run]:
    """A record made before a config key existed ran at the key's old value: read it so, or
    older and newer records of one experiment would split into groups on that key."""
    configs = complete([r.config for r in runs])
    return [
        r if c is r.config else replace(r, config=c) for r, c in zip(runs, configs, strict=True)
    ]


def build_report(runs: Sequence[Run], opts: ReportOptions = ReportOptions()) -> Report:
    """The report of ``runs``: which count, their groups, the family's tests and verdicts."""
    compare, metric, select_key = opts.compare, opts.metric, opts.select_key
    runs = _with_added_keys(runs)
    # runs whose config is not read (unreadable, modified) cannot show a key is wrong
    if any(r.config for r in runs) and not any(compare in r.config for r in runs):
        raise ValueError(f"no run has the config key {compare!r} (try --compare model.bias)")
    _check_selection(runs, compare, metric, select_key, opts.by)
    swept = swept_keys([r for r in runs if r.config])
    group_keys = [k for k in swept if k not in (compare, select_key)]
    usable, problems = _usable(runs, metric, compare)
    cache: dict[str, int | None] = {}

    def classes_of(r: Run) -> int | None:  # the chance level: given, else the run's own
        return opts.classes if opts.classes is not None else learned.classes_of(r, cache)

    # every usable run's learned-check, chosen or not
    all_failed = {
        id(r): why
        for r in usable
        if (why := learned.why_not_learned(r, metric, classes_of(r))) is not None
    }
    every_value = usable
    selections: list[Selection] = []
    if select_key is not None:
        selections = select(runs, compare, select_key, opts.by, group_keys, classes_of)
        usable = keep_selected(usable, selections, compare, select_key, group_keys)
    failed = {id(r): all_failed[id(r)] for r in usable if id(r) in all_failed}
    values = list({ident(r.config[compare]): r.config[compare] for r in usable}.values())
    base = choose_baseline(values, opts.baseline) if values else None
    margin = default_margin(metric) if opts.margin is None else opts.margin
    groups = analyze(usable, compare, metric, base, group_keys, failed, margin) if usable else []
    rep = Report(
        opts.command,
        compare,
        metric,
        base,
        len(runs),
        swept,
        group_keys,
        groups,
        problems,
        provenance=provenance(runs),
        margin=margin,
        classes=_chance_levels(usable, classes_of),
        not_learned=len(failed),
        pool=opts.pool,
        sources=check_sources(groups, compare, opts.pool, _read_per_sweep(runs)),
        select=select_key,
        by=opts.by,
        selections=selections,
    )
    _edit_evidence(rep, runs)
    _decide(rep)
    if select_key is not None and base is not None:
        _at_same_value(rep, every_value, all_failed)
    if opts.interaction_key is not None:
        _interactions(rep, opts.interaction_key)
    return rep


def _usable(runs: Sequence[Run], metric: str, compare: str):
    """(runs the report can use, (source, status, why) of each it cannot)."""
    usable, problems = [], []
    for r in runs:
        why = why_unusable(r, metric, compare)
        if why is None:
            usable.append(r)
        else:
            problems.append((r.source, r.status, why))
    return usable, problems


def _chance_levels(usable: Sequence[Run], classes_of) -> dict[int, int]:
    """Number of classes → runs read with that chance level."""
    used: dict[int, int] = {}
    for r in usable:
        k = classes_of(r)
        if k is not None:
            used[k] = used.get(k, 0) + 1
    return used


def _read_per_sweep(runs: Sequence[Run]) -> dict[str, int]:
    read: dict[str, int] = {}
    for r in runs:
        read[r.sweep] = read.get(r.sweep, 0) + 1
    return read


def _edit_evidence(rep: Report, runs: Sequence[Run]) -> None:
    rep.edit_evidence = edit_evidence(runs)
    # records from before digests alone: their published reports read as they always did
    if any(r.integrity not in ("", UNSEALED) for r in runs):
        rep.provenance.append(f"- Edit evidence: {rep.edit_evidence}")


def _decide(rep: Report) -> None:
    """Holm's correction over the report's family, then every comparison's verdict."""
    rep.family_size, rep.eq_family_size = apply_holm(rep.comparisons)
    for cmp in rep.comparisons:
        decide(cmp, rep.metric, rep.margin, rep.eq_family_size)


def _at_same_value(rep: Report, every_value: Sequence[Run], all_failed: dict[int, str]) -> None:
    """The sensitivity check of a tuned report: the arms at each value both ran."""
    rep.at_same_value = same_value.at_shared_values(
        every_value,
        rep.compare,
        rep.metric,
        rep.baseline,
        rep.group_keys,
        rep.select,
        all_failed,
        rep.margin,
        rep.pool,
    )
    same_value.flag_differing_choices(
        [(g.key, c) for g in rep.groups for c in g.comparisons],
        rep.selections,
        rep.baseline,
        rep.at_same_value,
        rep.select,
        rep.metric,
    )


def _interactions(rep: Report, interaction_key: str) -> None:
    key, reference = interaction.parse(interaction_key)
    if key == rep.select:
        raise ValueError(f"--interaction {key}: the key tuned by --select cannot be a level")
    rep.interaction_key = key
    rep.interactions, rep.interactions_skipped = interaction.interactions(
        rep.groups, rep.group_keys, key, reference, rep.metric, rep.margin
    )


def _check_selection(
    runs: Sequence[Run], compare: str, metric: str, key: str | None, by: str | None
) -> None:
    """A selection needs both halves, a validation metric, and a key other than the compared
    one that the runs hold: the test set never chooses."""
    if (key is None) != (by is None):
        raise ValueError("--select and --by go together: --select KEY --by val/METRIC")
    if key is None:
        return
    if key == compare:
        raise ValueError(f"--select {key}: the compared key cannot also be tuned")
    if not by.startswith("val/"):
        raise ValueError(
            f"--by {by}: must be a validation metric (val/...): the test set never chooses"
        )
    if by == metric:
        raise ValueError(f"--by {by}: the compared metric {metric} cannot also choose")
    if not any(key in r.config for r in runs):
        raise ValueError(f"--select {key}: no run has this config key")
    if not any(by in r.metrics for r in runs):
        raise ValueError(f"--by {by}: no run recorded this metric")
    values = {ident(r.config.get(key)): r.config.get(key) for r in runs if compare in r.config}
    if len(values) < 2:
        shown = ", ".join(fmt_value(v) for v in values.values())
        raise ValueError(
            f"--select {key}: the runs hold one value of it ({shown}), so there is nothing to "
            "tune: leave out --select and --by"
        )
