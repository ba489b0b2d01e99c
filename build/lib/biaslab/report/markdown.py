"""Markdown pieces the report's sections share: tables, cells and the metric's direction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from biaslab.report.analysis import Arm
from biaslab.report.values import fmt_num, lower_is_better, scale


def mean_std(arm: Arm, metric: str) -> str:
    std = fmt_num(arm.std, metric)
    return fmt_num(arm.mean, metric) + ("" if std == "—" else f" ± {std}")


def counts(values: Sequence[float]) -> str:
    if not values:
        return "—"
    lo, hi = int(min(values)), int(max(values))
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def n_tests(n: int, kind: str = "") -> str:
    """A family's size in words: "1 test", "3 equivalence tests"."""
    return f"{n} {kind + ' ' if kind else ''}test{'' if n == 1 else 's'}"


def seeds(values: Iterable[Any]) -> str:
    return ", ".join(str(s) for s in values) or "—"


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(x: Any) -> str:  # a pipe or newline would break the row
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]


def direction(metric: str) -> str:
    better = "lower is better" if lower_is_better(metric) else "higher is better"
    units = "percentage points" if scale(metric) == 100.0 else "raw units"
    return f"{better}; shown in {units}"
