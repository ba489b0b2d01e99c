"""The report as markdown, as CSV and as a console table."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biaslab.report import stats
from biaslab.report.analysis import Arm, Report
from biaslab.report.values import fmt_num, fmt_value, ident, lower_is_better, scale
from biaslab.report.verdict import ALPHA, TRIVIAL_CUTOFF


def _mean_std(arm: Arm, metric: str) -> str:
    std = fmt_num(arm.std, metric)
    return fmt_num(arm.mean, metric) + ("" if std == "—" else f" ± {std}")


def _counts(values: Sequence[float]) -> str:
    if not values:
        return "—"
    lo, hi = int(min(values)), int(max(values))
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def _seeds(seeds: Iterable[Any]) -> str:
    return ", ".join(str(s) for s in seeds) or "—"


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(x: Any) -> str:  # a pipe or newline would break the row
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]


def _direction(metric: str) -> str:
    better = "lower is better" if lower_is_better(metric) else "higher is better"
    units = "percentage points" if scale(metric) == 100.0 else "raw units"
    return f"{better}; shown in {units}"


def render_markdown(rep: Report) -> str:
    c, m, base = rep.compare, rep.metric, fmt_value(rep.baseline)
    n_used = rep.n_runs - len(rep.problems)
    out = [
        f"# Does `{c}` change `{m}`?",
        "",
        f"Command: `{rep.command}`",
        "",
        f"- Runs: {rep.n_runs} found, {n_used} used, {len(rep.problems)} not used "
        "(see *Runs not used*)",
        f"- Compared: `{c}`, baseline `{base}`",
        f"- Metric: `{m}` ({_direction(m)})",
        "- Grouped by: "
        + (
            ", ".join(f"`{k}`" for k in rep.group_keys) or "nothing (no other config key was swept)"
        ),
        "",
        "## Verdicts",
        "",
    ]
    for g in rep.groups:
        for cmp in g.comparisons:
            out.append(f"- **{g.label}** — `{c}={fmt_value(cmp.value)}` vs `{base}`: {cmp.verdict}")
        if g.note:
            out.append(f"- **{g.label}** — {g.note}")
    if not rep.groups:
        out.append(f"No usable runs: none completed with a finite `{m}`.")
    out += ["", "## Results by group", ""]
    for g in rep.groups:
        out += [f"### {g.label}", ""]
        out += _md_table(
            [c, "n", f"{m} mean ± std", "seeds", "params/total", "params/bias"],
            [
                [
                    fmt_value(a.value),
                    a.n,
                    _mean_std(a, m),
                    _seeds(a.by_seed),
                    _counts(a.params_total),
                    _counts(a.params_bias),
                ]
                for a in g.arms
            ],
        )
        out.append("")
        for cmp in g.comparisons:
            out.append(
                f"- `{fmt_value(cmp.value)}` − `{base}`, paired over {cmp.n_pairs} "
                f"seeds: {cmp.verdict}"
            )
        out.append("")
    out += _batch_norm_note(rep)
    out += ["## Runs not used", ""]
    if rep.problems:
        out.append("Failed, diverged or incomplete runs, excluded from every statistic above:")
        out.append("")
        out += _md_table(
            ["run", "status", "error"], [[s, st, (why or "")[:300]] for s, st, why in rep.problems]
        )
    else:
        out.append(f"None: every run completed with a finite `{m}`.")
    out += ["", "## Seeds", "", _seeds_note(rep), "", "## Method", "", _method(rep), ""]
    if rep.sweeps or rep.provenance:
        out += ["## Provenance", ""]
        out += [f"- Runs launched by: `{c}`" for c in rep.sweeps]
        out += [*rep.provenance, ""]
    out += ["## Plots", ""]
    out += [f"![{p.stem}]({p.name})" for p in rep.plots] or [rep.plot_note]
    return "\n".join(out) + "\n"


def _batch_norm_note(rep: Report) -> list[str]:
    """Where a batch norm follows every conv, the conv bias is provably inert: say so."""
    labels = [g.label for g in rep.groups if g.batch_norm]
    if rep.compare != "model.bias" or not labels:
        return []
    return [
        "## The batch-norm identity",
        "",
        "In " + ", ".join(f"**{lb}**" for lb in labels) + " every conv is followed by a batch "
        "norm. In training mode the norm subtracts the per-channel batch mean, which contains "
        "the conv's bias, so the output does not depend on the bias and its gradient is zero "
        "(exactly, up to rounding); in eval mode the bias folds into the running mean. "
        "`tests/test_bn_identity.py` checks both on this project's model builder in float64. "
        "There `bias=true` is pure overhead: the extra `params/bias` above, and on a GPU the "
        "throughput a bias add costs. `bias=auto` drops exactly these biases.",
        "",
    ]


def _seeds_note(rep: Report) -> str:
    lines = [
        "Runs are paired by seed: a seed run with one value only counts in that value's "
        "mean ± std but not in the paired difference."
    ]
    for g in rep.groups:
        for cmp in g.comparisons:
            if cmp.only_value:
                lines.append(
                    f"- {g.label}: seeds only with `{fmt_value(cmp.value)}`: "
                    f"{_seeds(cmp.only_value)}"
                )
            if cmp.only_baseline:
                lines.append(
                    f"- {g.label}: seeds only with `{fmt_value(rep.baseline)}` "
                    f"(unpaired against `{fmt_value(cmp.value)}`): "
                    f"{_seeds(cmp.only_baseline)}"
                )
        for a in g.arms:
            if a.duplicates:
                lines.append(
                    f"- {g.label}, `{fmt_value(a.value)}`: seeds run more than once "
                    f"(their results averaged): {_seeds(a.duplicates)}"
                )
    if len(lines) == 1:
        lines.append("Every group ran the same seeds for every compared value.")
    return "\n".join(lines)


def _method(rep: Report) -> str:
    text = (
        f"Each non-baseline value is compared with the baseline by a {stats.METHOD}. "
        f"A difference is significant when p < {ALPHA}. Verdicts need at least 2 paired "
        f"seeds. mean ± std is over the seeds of one arm (std with n-1); the plots' bands "
        f"are each arm's 95% CI of the mean, not of the paired difference. "
        f'For `{rep.metric}` {_direction(rep.metric)}, so "helps" means '
        f"{'lower' if lower_is_better(rep.metric) else 'higher'}. summary.csv holds the "
        f"same numbers in raw metric units."
    )
    if rep.metric.endswith("_over_baseline"):
        text += (
            f" The metric is relative to a trivial predictor (1.0); a group where no arm's "
            f"mean is below {TRIVIAL_CUTOFF} is reported as inconclusive."
        )
    return text


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
]


def _count(values: list[float]) -> int | float | str:
    """A parameter count for the CSV: the count when every run agrees, else their mean."""
    if not values:
        return ""
    mean = float(np.mean(values))
    return int(mean) if len(set(values)) == 1 and mean.is_integer() else mean


def write_csv(rep: Report, path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*rep.group_keys, rep.compare, *CSV_STATS])
        for g in rep.groups:
            by_value = {ident(cmp.value): cmp for cmp in g.comparisons}
            for a in g.arms:
                cmp = by_value.get(ident(a.value))
                t = cmp.test if cmp else None
                row = [fmt_value(v) for _, v in g.key] + [
                    fmt_value(a.value),
                    rep.metric,
                    a.n,
                    a.mean,
                    a.std,
                ]
                row += [
                    _count(a.params_total),
                    _count(a.params_bias),
                    fmt_value(rep.baseline),
                    cmp.n_pairs if cmp else "",
                ]
                row += [t.diff, t.ci_low, t.ci_high, t.p] if t else [""] * 4
                verdict_text = cmp.verdict if cmp else ("baseline" if not g.note else g.note)
                unpaired = _seeds(cmp.only_value) if cmp and cmp.only_value else ""
                writer.writerow(row + [verdict_text, _seeds(a.by_seed), unpaired])


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
            table.add_row(g.label, fmt_value(a.value), str(a.n), _mean_std(a, rep.metric), text)
    console = Console()
    if not console.is_terminal:  # a log or a pipe: rows whole instead of folded at 80 columns
        console.width = 200
    console.print(table)
    if rep.problems:
        console.print(f"{len(rep.problems)} run(s) not used: see the report's 'Runs not used'.")
