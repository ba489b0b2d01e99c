"""Which figures a report gets: the answer plot (the paired difference per group) and the
level plots (each arm's metric), saved next to report.md."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from biaslab.report import figure_marks as marks
from biaslab.report import stats
from biaslab.report.analysis import WIDTH
from biaslab.report.build import Report
from biaslab.report.compare import MIN_PAIRS
from biaslab.report.plots import MARKERS, Point, groups_figure, sweep_figure
from biaslab.report.values import fmt_value, scale


def difference_figure(path: Path, rep: Report) -> Path:
    """Per group and compared value: the mean paired difference with its 95 % t CI, each
    seed's difference as a dot (× for pairs that did not learn, left out of the CI), a zero
    line and the ±δ band. Against model.width when that was swept, else a forest plot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = scale(rep.metric)
    unit = " (pts)" if s == 100.0 else ""
    # identical runs are not drawn, and a twin (`auto` ≡ `false`) once, under its first name
    rows = [(g, c) for g in rep.groups for c in g.comparisons if not c.identical and not c.twin]
    twins = marks.twin_note(rep.comparisons)
    numeric = WIDTH in rep.group_keys and all(
        isinstance(dict(g.key)[WIDTH], (int, float)) for g, _ in rows
    )
    series = _series(rep, rows, twins, numeric)
    solved = [(g.label, c) for g, c in rows if c.solve is not None]
    # against width the legend goes below the axes, where it hides no point and no verdict
    # word, and the figure grows by its rows
    below = numeric
    if not numeric:  # a forest plot: a row per series
        tall = max(2.5, 0.55 * len(series) + 1.5)
    else:  # about 0.2 in per legend row of two entries (series, band, 90 %, markers)
        tall = 4.0 + 0.2 * (len(series) + 5) / 2
    fig = Figure(figsize=(14 if solved else 9, tall), layout="constrained")
    FigureCanvasAgg(fig)
    if solved:  # solved / not solved: the solve rates beside the differences
        ax, ax_solve = fig.subplots(1, 2, width_ratios=[3, 2])
        marks.solve_panel(ax_solve, solved, fmt_value(rep.baseline))
    else:
        ax = fig.subplots()
    n = len(series)
    for i, (name, points) in enumerate(series.items()):
        m = MARKERS[i % len(MARKERS)]
        for x, c in points:
            pos = float(x) * 2 ** (0.08 * (i - (n - 1) / 2)) if numeric else float(n - 1 - i)
            _draw_comparison(ax, c, pos, s, numeric, i, m)
        if numeric:  # one legend entry per series, joined by a faint line
            ok = [(x, c) for x, c in points if c.test and len(c.usable) >= MIN_PAIRS]
            xs = [float(x) * 2 ** (0.08 * (i - (n - 1) / 2)) for x, _ in ok]
            ys = [c.test.diff * s for _, c in ok]
            ax.plot(xs, ys, color=f"C{i}", marker=m, alpha=0.5, label=name)
    _zero_band_and_labels(ax, rep, numeric, list(series))
    what = f"{rep.compare} − {fmt_value(rep.baseline)}: paired difference in {rep.metric}{unit}"
    if below:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8)
    else:
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(what, fontsize=11)
    fig.savefig(path, dpi=120)
    return path


def _series(rep: Report, rows, twins: dict[int, str], numeric: bool) -> dict[str, list]:
    """The figure's series: against width, one per value of the other group keys and
    compared value; else one per group and compared value (a forest plot's rows)."""
    others = [k for k in rep.group_keys if k != WIDTH]
    series: dict[str, list] = defaultdict(list)
    for g, c in rows:
        key = dict(g.key)
        label = c.label + twins.get(id(c), "")
        name = ", ".join([f"{k}={fmt_value(key[k])}" for k in others] + [label])
        series[name if numeric else f"{g.label}: {label}"].append((key.get(WIDTH), c))
    return series


def _draw_comparison(ax, c, pos: float, s: float, numeric: bool, i: int, m: str) -> None:
    """One comparison at ``pos``: each seed's difference, its verdict word, and (where a
    verdict could be tested) the mean with its 95 % and 90 % intervals."""
    used = [c.diffs[seed] * s for seed in c.usable]
    bad = [c.diffs[seed] * s for seed, _ in c.not_learned]
    # a t interval from fewer usable pairs than a verdict needs is not drawn
    tested = c.test is not None and len(c.usable) >= MIN_PAIRS
    dots = [(used, "o", 0.45, None), (bad, "x", 0.9, "red")]
    for values, marker, alpha, color in dots:
        if not values:
            continue
        jitter = np.linspace(-0.03, 0.03, len(values))
        others_pos = pos * 2**jitter if numeric else pos + 3 * jitter
        xy = (others_pos, values) if numeric else (values, others_pos)
        ax.scatter(*xy, marker=marker, s=18, alpha=alpha, color=color or f"C{i}")
    marks.draw_word(ax, c, pos, s, numeric)
    if not tested:
        return
    center, lo, hi = c.test.diff * s, c.test.ci_low * s, c.test.ci_high * s
    marks.draw_ci90(ax, c, pos, s, numeric, f"C{i}")
    err = [[center - lo], [hi - center]]
    if numeric:
        ax.errorbar([pos], [center], yerr=err, fmt=m, color=f"C{i}", capsize=4, ms=7)
    else:
        ax.errorbar([center], [pos], xerr=err, fmt=m, color=f"C{i}", capsize=4, ms=7)


def _zero_band_and_labels(ax, rep: Report, numeric: bool, names: list[str]) -> None:
    """The zero line, the ±δ band, the legend's fixed entries and the axes' labels."""
    s = scale(rep.metric)
    unit = " (pts)" if s == 100.0 else ""
    line = ax.axhline if numeric else ax.axvline
    band = ax.axhspan if numeric else ax.axvspan
    line(0.0, color="black", linewidth=1)
    if rep.margin is not None:
        d = rep.margin * s
        band(-d, d, color="0.6", alpha=0.2, label=f"±δ = ±{d:g}{' pts' if s == 100.0 else ''}")
    marks.legend_entries(ax)
    ax.scatter([], [], marker="x", color="red", label="pair that did not learn (not in CI)")
    ax.scatter([], [], marker="o", color="0.5", alpha=0.45, label="one seed's difference")
    if numeric:
        ax.set_xscale("log", base=2)
        from matplotlib.ticker import ScalarFormatter

        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel(WIDTH)
        ax.set_ylabel(f"difference{unit}, mean and 95% CI (thick: 90%)")
    else:
        ax.set_yticks(range(len(names)), names[::-1])
        ax.set_xlabel(f"difference{unit}, mean and 95% CI (thick: 90%)")
    ax.grid(True, alpha=0.3)


def _reference(rep: Report) -> tuple[float, str] | None:
    if rep.metric.endswith("_over_baseline"):
        return 1.0, "trivial predictor (1.0)"
    if scale(rep.metric) == 100.0 and len(rep.classes) == 1:
        (k,) = rep.classes
        return 100.0 / k, f"chance (1/{k})"
    return None


_OWN = object()  # an arm with runs of its own


def make_plots(rep: Report, out: Path) -> None:
    if not rep.groups:
        rep.plot_note = "No plots: no usable runs."
        return
    if any(not c.identical for c in rep.comparisons):
        rep.plots.append(difference_figure(out / "difference.png", rep))
    s = scale(rep.metric)
    unit = " (%)" if s == 100.0 else ""
    level = {
        "limits": (0.0, 100.0) if s == 100.0 else None,  # an accuracy's band stops at 0, 100
        "reference": _reference(rep),
        "log_y": rep.metric.endswith("_over_baseline"),  # spans orders of magnitude
        "ylabel": f"{rep.metric}{unit}, mean and 95% CI",
    }
    if WIDTH not in rep.group_keys:
        arms: dict[str, dict[str, tuple[float, float]]] = {}
        for g in rep.groups:
            arms[g.label] = {}
            for a in g.arms:
                mean, half = stats.mean_ci(list(a.by_seed.values()))
                arms[g.label][f"{rep.compare}={fmt_value(a.value)}"] = (mean * s, half * s)
        title = f"{rep.metric} by {rep.compare}"
        rep.plots.append(groups_figure(out / "groups.png", arms, title=title, **level))
        return
    others = [k for k in rep.group_keys if k != WIDTH]
    figures: dict[str, dict[str, list[Point]]] = defaultdict(lambda: defaultdict(list))
    # per figure and line: the line each group's arm repeats bit for bit (None: its own runs)
    repeats: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for g in rep.groups:
        key = dict(g.key)
        if not isinstance(key[WIDTH], (int, float)):  # e.g. a run with explicit channels
            continue
        title = ", ".join(f"{k}={fmt_value(key[k])}" for k in others)
        same = marks.same_runs(g.comparisons, rep.baseline)
        for a in g.arms:
            mean, half = stats.mean_ci(list(a.by_seed.values()))
            params = float(np.mean(a.params_total)) if a.params_total else math.nan
            label = f"{rep.compare}={fmt_value(a.value)}"
            figures[title][label].append((float(key[WIDTH]), params, mean * s, half * s))
            twin = same.get(fmt_value(a.value), _OWN)
            repeats[title][label].append(
                None if twin is _OWN else f"{rep.compare}={fmt_value(twin)}"
            )
    for i, (title, lines) in enumerate(figures.items()):
        lines = marks.merge_twin_lines(lines, repeats[title])
        slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", title)[:80]
        name = f"sweep_{i:02d}_{slug}.png" if title else "sweep.png"
        title = title or f"{rep.metric} by {rep.compare}"
        rep.plots.append(sweep_figure(out / name, lines, title=title, **level))
