"""The built-bias figure, for runs that measured it (``callbacks=built_bias``): per conv
layer, each compared arm's share of a per-channel constant in what the layer builds without
its bias (``built_bias/conv{i}``) and in its pre-activation (``const_share/conv{i}``), one
panel per group; saved next to report.md as built_bias.png. The drawing (:func:`draw`) takes
plain data, so that a sweep's report and a study's report draw the same figure."""

from __future__ import annotations

import math
import re
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from biaslab.report import stats
from biaslab.report.analysis import Arm
from biaslab.report.build import Report
from biaslab.report.plots import MARKERS
from biaslab.report.values import fmt_value

BUILT, CONST = "built_bias/conv", "const_share/conv"
COLUMNS = 4  # panels per row

# per arm: its label, and per prefix (BUILT, CONST) conv layer i → one value per seed
Shares = dict[str, dict[int, list[float]]]
# per panel: its title, and its arms in drawing order
Panel = tuple[str, list[tuple[str, Shares]]]


def per_layer(arm: Arm, prefix: str) -> dict[int, list[float]]:
    """Conv layer i → one value per seed that recorded ``<prefix>i`` (a seed's repeated
    runs averaged), in the arm's seed order."""
    out: dict[int, list[float]] = defaultdict(list)
    for runs in arm.runs.values():
        seen: dict[int, list[float]] = defaultdict(list)
        for r in runs:
            for name, v in r.metrics.items():
                layer = re.fullmatch(re.escape(prefix) + r"(\d+)", name)
                if layer and isinstance(v, (int, float)) and math.isfinite(v):
                    seen[int(layer[1])].append(float(v))
        for i, values in seen.items():
            out[i].append(float(np.mean(values)))
    return dict(sorted(out.items()))


def _draw_arm(ax, shares: Shares, label: str, i: int, n: int) -> None:
    """One arm in one panel: each seed's share as a faint dot, the mean over seeds with its
    95 % t interval; the built share solid, the pre-activation's dashed with open markers."""
    dx = 0.25 * (i - (n - 1) / 2) / max(n - 1, 1)
    for prefix, style, fill in ((BUILT, "-", f"C{i}"), (CONST, "--", "white")):
        layers = dict(sorted(shares.get(prefix, {}).items()))
        if not layers:
            continue
        x = np.array(list(layers), dtype=float) + dx + (0.04 if prefix == CONST else 0.0)
        for xi, values in zip(x, layers.values(), strict=True):
            ax.scatter([xi] * len(values), values, s=8, alpha=0.3, color=f"C{i}")
        mean, half = np.array([stats.mean_ci(v) for v in layers.values()], dtype=float).T
        what = "built" if prefix == BUILT else "pre-activation"
        ax.errorbar(
            x,
            mean,
            yerr=np.nan_to_num(half),
            fmt=MARKERS[i % len(MARKERS)],
            linestyle=style,
            color=f"C{i}",
            markerfacecolor=fill,
            capsize=3,
            label=f"{label}: {what}",
        )


def built_bias_figure(path: Path, rep: Report) -> Path | None:
    """The figure at ``path``, or None where no group's runs recorded ``built_bias/conv*``."""
    panels = [
        (
            g.label,
            [
                (
                    f"{rep.compare}={fmt_value(a.value)}",
                    {BUILT: per_layer(a, BUILT), CONST: per_layer(a, CONST)},
                )
                for a in g.arms
            ],
        )
        for g in rep.groups
    ]
    return draw(path, panels)


def panel_title(label: str) -> str:
    """A panel's title in lines of at most 40 characters: a cell of three keys is wider than
    its panel, and one line would run into its neighbours' titles."""
    return textwrap.fill(label, 40, break_long_words=False)


def draw(path: Path, panels: list[Panel], metadata: dict[str, Any] | None = None) -> Path | None:
    """The figure at ``path`` (``metadata``: the PNG's, as ``Figure.savefig`` takes it), one
    panel per panel that holds a built share; None where none does."""
    panels = [p for p in panels if any(shares.get(BUILT) for _, shares in p[1])]
    if not panels:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(COLUMNS, len(panels))
    rows = math.ceil(len(panels) / cols)
    # wide enough for the two-line title and the legend under one panel
    fig = Figure(figsize=(max(7.0, 3.6 * cols + 0.6), 3.0 * rows + 1.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax, (title, arms) in zip(axes, panels, strict=False):
        for i, (label, shares) in enumerate(arms):
            _draw_arm(ax, shares, label, i, len(arms))
        ax.set_title(panel_title(title), fontsize=9)
        ax.set_xlabel("conv layer")
        ax.set_ylim(-0.03, 1.03)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel("share of a per-channel constant")
    # the arms of the panel with the most, once for the figure
    widest = max(range(len(panels)), key=lambda k: len(panels[k][1]))
    handles, labels = axes[widest].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(
        "Share of a per-channel constant, mean(z)² / mean(z²), mean over channels\n"
        "solid: z without the conv's bias (built); dashed: the pre-activation; "
        "dots: seeds; bars: mean and 95% CI",
        fontsize=9,
    )
    fig.savefig(path, dpi=120, metadata=metadata)
    return path
