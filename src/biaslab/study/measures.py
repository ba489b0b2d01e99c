"""End-of-run measures of a study's runs (``callbacks=train_eval``, ``callbacks=built_bias``),
read from the runs its verdicts read, failed runs left out: per cell and arm a row of
report.md's "End-of-run measures" (the training split's accuracy and loss at the end, each
conv layer's built bias), and the built-bias figure, one panel per cell."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from biaslab.report.built_bias_figure import BUILT, CONST, Panel, Shares, draw
from biaslab.report.load import Run
from biaslab.study.plan import Plan
from biaslab.study.progress import Progress, label
from biaslab.study.records import failed

FIGURE = "built_bias.png"
ACC, LOSS = "train_full/acc", "train_full/loss"
INTERPOLATED = 0.999  # train_full/acc at or above it: the net interpolates its training data
# the PNG carries no matplotlib version: a rerun elsewhere writes the same bytes
METADATA = {"Software": None}


def _values(runs: list[Run], name: str) -> list[float]:
    """``name`` of each run that recorded it as a finite number, in the runs' order."""
    vals = (r.metrics.get(name) for r in runs)
    return [
        float(v)
        for v in vals
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


def _layers(runs: list[Run], prefix: str) -> dict[int, list[float]]:
    """Conv layer i → the runs' ``<prefix>i`` values, layers in order."""
    pattern = re.escape(prefix) + r"(\d+)"
    found = {int(m[1]) for r in runs for k in r.metrics if (m := re.fullmatch(pattern, k))}
    return {i: v for i in sorted(found) if (v := _values(runs, f"{prefix}{i}"))}


def _rows(plan: Plan, state: Progress) -> list[tuple[str, str, list[Run], int]]:
    """Per cell and arm: the cell's label, the arm, its runs that did not fail, how many
    failed."""
    out = []
    for cell in state.cells:
        for arm in plan.arms:
            runs = cell.members.get(arm, [])
            ok = [r for r in runs if not failed(plan, r)]
            out.append((label(cell.cell), arm, ok, len(runs) - len(ok)))
    return out


def _of(text: str, k: int, n: int) -> str:
    """A mean over k of the row's n runs, marked where some runs did not record it."""
    return text if k == n else f"{text} [{k} of {n}]"


def _acc(vals: list[float], n: int) -> list[str]:
    if not vals:
        return ["–", "–"]
    mean = f"{100 * np.mean(vals):.2f} (min {100 * min(vals):.2f})"
    return [_of(mean, len(vals), n), f"{sum(v >= INTERPOLATED for v in vals)}/{len(vals)}"]


def _share(built: list[float], const: list[float], n: int) -> str:
    """built mean ± SD over seeds / the pre-activation's mean."""
    if built:
        sd = f" ± {np.std(built, ddof=1):.3f}" if len(built) > 1 else ""
        text = _of(f"{np.mean(built):.3f}{sd}", len(built), n)
    else:
        text = "–"
    return f"{text} / {_of(f'{np.mean(const):.3f}', len(const), n) if const else '–'}"


def _columns(rows: list[tuple[str, str, list[Run], int]]) -> tuple[bool, bool, list[int]]:
    """What the runs recorded: train_full/acc, train_full/loss, and the conv layers."""
    runs = [r for _, _, ok, _ in rows for r in ok]
    layers = set(_layers(runs, BUILT)) | set(_layers(runs, CONST))
    return bool(_values(runs, ACC)), bool(_values(runs, LOSS)), sorted(layers)


def _table(plan: Plan, rows: list[tuple[str, str, list[Run], int]]) -> list[str]:
    acc, loss, layers = _columns(rows)
    head = ["cell", "arm", "n", "failed (left out)"]
    head += ["train acc %: mean (min)", "interpolated"] if acc else []
    head += ["train loss"] if loss else []
    head += [f"conv{i}: built ± SD / pre-act." for i in layers]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell, arm, ok, bad in rows:
        n = len(ok)
        row = [cell, f"{plan.compare}={arm}", str(n), str(bad)]
        row += _acc(_values(ok, ACC), n) if acc else []
        if loss:
            vals = _values(ok, LOSS)
            row.append(_of(f"{np.mean(vals):.3g}", len(vals), n) if vals else "–")
        built, const = _layers(ok, BUILT), _layers(ok, CONST)
        row += [_share(built.get(i, []), const.get(i, []), n) for i in layers]
        out.append("| " + " | ".join(row) + " |")
    return out


def _legend(acc: bool, loss: bool, layers: list[int]) -> str:
    """What the table's columns hold, for the columns it has."""
    text = (
        "The runs the verdicts read, per cell and arm: n of them count, the failed ones (the "
        "plan's rule) are left out of every mean."
    )
    if acc:
        text += (
            " train acc: `train_full/acc`, the whole training split at the end, mean over seeds "
            f"(the lowest seed); interpolated: seeds at `train_full/acc` ≥ {INTERPOLATED:g}."
        )
    if loss:
        text += " train loss: `train_full/loss`, mean over seeds."
    if layers:
        text += (
            " conv i: `built_bias/conv{i}` (the share of a per-channel constant in what the "
            "layer builds without its bias), mean ± SD over seeds / `const_share/conv{i}` (the "
            "same share of the pre-activation), mean."
        )
    return text + " [k of n]: only k of the n runs recorded it."


def panels(plan: Plan, state: Progress) -> list[Panel]:
    """The figure's data: per cell, per arm its shares per prefix, conv layer and seed."""
    out: dict[str, list[tuple[str, Shares]]] = {}
    for cell, arm, ok, _ in _rows(plan, state):
        shares = {BUILT: _layers(ok, BUILT), CONST: _layers(ok, CONST)}
        out.setdefault(cell, []).append((f"{plan.compare}={arm}", shares))
    return list(out.items())


def section(plan: Plan, state: Progress) -> list[str]:
    """report.md's "End-of-run measures", or nothing where no run recorded them."""
    rows = _rows(plan, state)
    acc, loss, layers = _columns(rows)
    if not (acc or loss or layers):
        return []
    out = ["", "## End-of-run measures", "", _legend(acc, loss, layers), ""]
    out += _table(plan, rows)
    if any(shares[BUILT] for _, arms in panels(plan, state) for _, shares in arms):
        out += ["", f"![built_bias]({FIGURE})"]
    return out


def figure(plan: Plan, state: Progress, folder: Path) -> Path | None:
    """``folder``/built_bias.png, or None where no run the verdicts read recorded it."""
    return draw(folder / FIGURE, panels(plan, state), metadata=METADATA)
