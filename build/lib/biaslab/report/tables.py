"""The report as summary.csv and as a console table."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from biaslab.report.build import Report
from biaslab.report.markdown import mean_std, seeds
from biaslab.report.values import fmt_value, ident

CSV_STATS = [
    "metric",
    "n",
    "mean",
    "std",
    "params_total",
    "params_bias",
    "baseline",
    "n_paired",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "verdict",
    "seeds",
    "unpaired_seeds",
    "kind",
    "n_usable",
    "not_learned_seeds",
    "p_holm",
    "wilcoxon_p",
    "boot_low",
    "boot_high",
    "margin",
    "tost_low",
    "tost_high",
    "tost_p",
    "tost_p_holm",
    "seeds_needed",
    "solved",
    "solved_baseline",
    "solve_p",
    "solve_p_holm",
]


def _count(values: list[float]) -> int | float | str:
    """A parameter count for the CSV: the count when every run agrees, else their mean."""
    if not values:
        return ""
    mean = float(np.mean(values))
    return int(mean) if len(set(values)) == 1 and mean.is_integer() else mean


def _num(x) -> float | str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else x


def write_csv(rep: Report, path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        tuned = [f"{rep.select} (chosen by {rep.by})"] if rep.select else []
        chosen = {(s.group_label, ident(s.arm)): s.chosen for s in rep.selections}
        writer.writerow([*rep.group_keys, rep.compare, *tuned, *CSV_STATS])
        for g in rep.groups:
            by_value = {ident(cmp.value): cmp for cmp in g.comparisons}
            for a in g.arms:
                cmp = by_value.get(ident(a.value))
                t = cmp.test if cmp else None
                row = [fmt_value(v) for _, v in g.key] + [
                    fmt_value(a.value),
                    *([fmt_value(chosen.get((g.label, ident(a.value))))] if tuned else []),
                    rep.metric,
                    a.n,
                    a.mean,
                    a.std,
                    _count(a.params_total),
                    _count(a.params_bias),
                    fmt_value(rep.baseline),
                    cmp.n_pairs if cmp else "",
                ]
                row += [t.diff, t.ci_low, t.ci_high, t.p] if t else [""] * 4
                verdict_text = cmp.verdict if cmp else ("baseline" if not g.note else g.note)
                unpaired = seeds(cmp.only_value) if cmp and cmp.only_value else ""
                row += [verdict_text, seeds(a.by_seed), unpaired]
                if cmp is None:
                    writer.writerow(row + [""] * (len(CSV_STATS) - 15))
                    continue
                eq, solve, boot = cmp.equivalence, cmp.solve, cmp.bootstrap
                row += [
                    cmp.kind,
                    len(cmp.usable),
                    " ".join(str(s) for s, _ in cmp.not_learned),
                    _num(cmp.twin.p_holm if cmp.twin else cmp.p_holm),  # a twin shares its test
                    _num(cmp.wilcoxon_p) if t else "",
                    boot[0] if boot else "",
                    boot[1] if boot else "",
                    _num(rep.margin),
                    eq.ci_low if eq else "",
                    eq.ci_high if eq else "",
                    eq.p if eq else "",
                    _num(eq.p_holm) if eq else "",
                    _num(cmp.seeds_needed),
                    solve.solved if solve else "",
                    solve.solved_base if solve else "",
                    solve.p if solve else "",
                    solve.p_holm if solve else "",
                ]
                writer.writerow(row)


def print_table(rep: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{rep.metric}: each {rep.compare} vs {rep.compare}={fmt_value(rep.baseline)}"
    )
    for col in ("group", rep.compare, "n", "mean ± std", "verdict"):
        table.add_column(col)
    for g in rep.groups:
        verdicts = {ident(cmp.value): cmp.verdict for cmp in g.comparisons}
        for a in g.arms:
            text = verdicts.get(ident(a.value), "baseline" if not g.note else g.note)
            table.add_row(g.label, fmt_value(a.value), str(a.n), mean_std(a, rep.metric), text)
    console = Console()
    if not console.is_terminal:  # a log or a pipe: rows whole instead of folded at 80 columns
        console.width = 200
    console.print(table)
    for it in rep.interactions:
        console.print(f"interaction, {it.context}, {it.key}={fmt_value(it.level)}: {it.verdict}")
    if rep.problems:
        console.print(f"{len(rep.problems)} run(s) not used: see the report's 'Runs not used'.")
