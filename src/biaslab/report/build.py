"""The whole report from a list of runs: which runs count, the groups, the family's Holm
correction and every verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biaslab.report import interaction, learned, same_value
from biaslab.report.analysis import Group, analyze, choose_baseline, swept_keys, why_unusable
from biaslab.report.load import Run
from biaslab.report.provenance import edit_evidence, provenance
from biaslab.report.select import Selection, keep_selected, select
from biaslab.report.sources import check_sources
from biaslab.report.values import fmt_value, ident
from biaslab.report.verdict import apply_holm, decide, default_margin
from biaslab.results import UNSEALED


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


def build_report(
    runs: Sequence[Run],
    compare: str = "model.bias",
    metric: str = "test/acc",
    baseline: str | None = None,
    command: str = "",
    *,
    margin: float | None = None,
    classes: int | None = None,
    pool: bool = False,
    select_key: str | None = None,
    by: str | None = None,
    interaction_key: str | None = None,
) -> Report:
    """``margin`` in raw metric units (default: :func:`default_margin`); ``classes`` overrides
    the number of classes read from each run's data module (the chance level). ``select_key``
    and ``by``: compare each arm at its own best value of ``select_key`` by the mean validation
    metric ``by`` (:mod:`biaslab.report.select`), per group. ``interaction_key``: ``KEY`` or
    ``KEY=REFERENCE``, a grouping key whose levels the gain is compared across
    (:mod:`biaslab.report.interaction`)."""
    # runs whose config is not read (unreadable, modified) cannot show a key is wrong
    if any(r.config for r in runs) and not any(compare in r.config for r in runs):
        raise ValueError(f"no run has the config key {compare!r} (try --compare model.bias)")
    _check_selection(runs, compare, metric, select_key, by)
    usable, problems = [], []
    for r in runs:
        why = why_unusable(r, metric, compare)
        if why is None:
            usable.append(r)
        else:
            problems.append((r.source, r.status, why))
    swept = swept_keys([r for r in runs if r.config])
    group_keys = [k for k in swept if k not in (compare, select_key)]
    cache: dict[str, int | None] = {}

    def classes_of(r: Run) -> int | None:  # the chance level: given, else the run's own
        return classes if classes is not None else learned.classes_of(r, cache)

    failed: dict[int, str] = {}  # every usable run's learned-check, chosen or not
    for r in usable:
        why = learned.why_not_learned(r, metric, classes_of(r))
        if why is not None:
            failed[id(r)] = why
    every_value = usable
    selections: list[Selection] = []
    if select_key is not None:
        selections = select(runs, compare, select_key, by, group_keys, classes_of)
        usable = keep_selected(usable, selections, compare, select_key, group_keys)
    all_failed, failed = failed, {id(r): failed[id(r)] for r in usable if id(r) in failed}
    values = list({ident(r.config[compare]): r.config[compare] for r in usable}.values())
    base = choose_baseline(values, baseline) if values else None
    margin = default_margin(metric) if margin is None else margin
    used_classes: dict[int, int] = {}
    for r in usable:
        k = classes_of(r)
        if k is not None:
            used_classes[k] = used_classes.get(k, 0) + 1
    groups = analyze(usable, compare, metric, base, group_keys, failed, margin) if usable else []
    read: dict[str, int] = {}
    for r in runs:
        read[r.sweep] = read.get(r.sweep, 0) + 1
    sources = check_sources(groups, compare, pool, read)
    rep = Report(
        command,
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
        classes=used_classes,
        not_learned=len(failed),
        pool=pool,
        sources=sources,
        select=select_key,
        by=by,
        selections=selections,
    )
    rep.edit_evidence = edit_evidence(runs)
    # records from before digests alone: their published reports read as they always did
    if any(r.integrity not in ("", UNSEALED) for r in runs):
        rep.provenance.append(f"- Edit evidence: {rep.edit_evidence}")
    rep.family_size, rep.eq_family_size = apply_holm(rep.comparisons)
    for cmp in rep.comparisons:
        decide(cmp, metric, margin, rep.eq_family_size)
    if select_key is not None and base is not None:
        rep.at_same_value = same_value.at_shared_values(
            every_value, compare, metric, base, group_keys, select_key, all_failed, margin, pool
        )
        same_value.flag_differing_choices(
            [(g.key, c) for g in groups for c in g.comparisons],
            selections,
            base,
            rep.at_same_value,
            select_key,
            metric,
        )
    if interaction_key is not None:
        key, reference = interaction.parse(interaction_key)
        if key == select_key:
            raise ValueError(f"--interaction {key}: the key tuned by --select cannot be a level")
        rep.interaction_key = key
        rep.interactions, rep.interactions_skipped = interaction.interactions(
            groups, group_keys, key, reference, metric, margin
        )
    return rep


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
