"""Report figures: the metric against width and against parameter count, one line per arm;
matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from biaslab.report.figure_marks import reference_or_note

MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", ":", "-.")


def _reference(ax, reference: tuple[float, str] | None, log_y: bool) -> None:
    """A horizontal line at chance level (or 1.0 for a ratio to a trivial predictor), or a
    note where it lies far off the data: the axis zooms to the data."""
    if log_y:
        ax.set_yscale("log")
    if reference is not None:
        reference_or_note(ax, reference[0], reference[1], log_y)


# One point of a line: (model.width, mean params/total, mean metric, 95% CI half-width).
Point = tuple[float, float, float, float]


def _span_at_least(ax, ratio: float) -> None:
    """Widen a log x axis to span at least ``ratio`` around its centre: with one width in a
    panel, autoscaling would stretch the arms' small sideways shift to the panel's edges."""
    left, right = ax.get_xlim()
    if right / left < ratio:
        mid = math.sqrt(left * right)
        ax.set_xlim(mid / math.sqrt(ratio), mid * math.sqrt(ratio))


def _band(mean, half, limits: tuple[float, float] | None):
    """The CI band's edges, kept inside the metric's range (an accuracy's is 0-100 %)."""
    lo, hi = mean - half, mean + half
    return (lo, hi) if limits is None else (np.clip(lo, *limits), np.clip(hi, *limits))


def sweep_figure(
    path: str | Path,
    lines: Mapping[str, Sequence[Point]],
    *,
    title: str,
    ylabel: str,
    limits: tuple[float, float] | None = None,
    reference: tuple[float, str] | None = None,
    log_y: bool = False,
) -> Path:
    """Two panels, metric vs width (log2 x) and vs params/total (log x), each line with a
    shaded 95% CI band (inside ``limits``, the metric's range); saved as a PNG at ``path``."""
    # Imported here so that loading results and computing statistics never pay for matplotlib;
    # a bare Figure on the Agg canvas needs no display and leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax_w, ax_p = fig.subplots(1, 2, sharey=True)
    n = len(lines)
    for i, (label, points) in enumerate(lines.items()):
        width, params, mean, half = np.array(sorted(points), dtype=float).T
        # arms that coincide (identical runs) must stay visible: each its own marker and
        # dash, and a small sideways shift on the log x axes
        shift = 2 ** (0.06 * (i - (n - 1) / 2))
        style = {"marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}
        half = np.nan_to_num(half)  # one seed has no interval: draw the line without a band
        lo, hi = _band(mean, half, limits)
        color = None
        for ax, x in ((ax_w, width * shift), (ax_p, params * shift)):
            keep = np.isfinite(x) & (x > 0)  # a log axis cannot show a missing or zero count
            (line,) = ax.plot(x[keep], mean[keep], label=label, color=color, **style)
            color = line.get_color()  # the same arm keeps its color in both panels
            ax.fill_between(
                x[keep],
                lo[keep],
                hi[keep],
                color=color,
                alpha=0.2,
                linewidth=0,
            )
    _axes(ax_w, ax_p, ylabel, reference, log_y)
    ax_w.legend()
    fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


def _axes(ax_w, ax_p, ylabel: str, reference: tuple[float, str] | None, log_y: bool) -> None:
    """The sweep figure's axes: width on log2, parameter counts on log10, the reference line."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter

    ax_w.set_xscale("log", base=2)
    ax_w.xaxis.set_major_formatter(ScalarFormatter())  # widths read 8, 16, 32, not 2^3, 2^4
    ax_w.set_xlabel("model.width")
    ax_p.set_xscale("log")
    for ax in (ax_w, ax_p):
        _span_at_least(ax, 4.0)
    # counts read 500, 1k, 2k; between the powers of ten only 2× and 5× are labelled, and only
    # on a short axis, where they cannot run together
    count = FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x >= 1000 else f"{x:g}")
    ax_p.xaxis.set_major_formatter(count)
    left, right = ax_p.get_xlim()
    if right / left < 100:
        ax_p.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax_p.xaxis.set_minor_formatter(count)
    else:
        ax_p.xaxis.set_minor_formatter(NullFormatter())
    ax_p.set_xlabel("params/total")
    ax_w.set_ylabel(ylabel)
    for ax in (ax_w, ax_p):
        _reference(ax, reference, log_y)
        ax.grid(True, which="both", alpha=0.3)


def groups_figure(
    path: str | Path,
    groups: Mapping[str, Mapping[str, tuple[float, float]]],
    *,
    title: str,
    ylabel: str,
    limits: tuple[float, float] | None = None,
    reference: tuple[float, str] | None = None,
    log_y: bool = False,
) -> Path:
    """One column per group, one marker per arm at its mean with the 95% CI as an error bar
    (inside ``limits``); for sweeps without a width axis.
    ``groups[group label][arm label] = (mean, half-width)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arms = list(dict.fromkeys(a for g in groups.values() for a in g))
    fig = Figure(figsize=(max(5.0, 1.6 * len(groups) + 2), 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    offsets = np.linspace(-0.2, 0.2, len(arms)) if len(arms) > 1 else [0.0]
    for i, (arm, dx) in enumerate(zip(arms, offsets, strict=True)):
        xs = [i + dx for i, g in enumerate(groups.values()) if arm in g]
        mean, half = np.array([g[arm] for g in groups.values() if arm in g], dtype=float).T
        lo, hi = _band(mean, np.nan_to_num(half), limits)
        if log_y:  # a log axis cannot show a band below 0: stop it just above
            lo = np.maximum(lo, mean * 0.01)
        m = MARKERS[i % len(MARKERS)]
        ax.errorbar(xs, mean, yerr=[mean - lo, hi - mean], fmt=m, capsize=4, label=arm)
    _reference(ax, reference, log_y)
    ax.set_xticks(range(len(groups)), list(groups), rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    # beside the axes: inside, "best" can still cover a marker (one arm alone in a group)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
