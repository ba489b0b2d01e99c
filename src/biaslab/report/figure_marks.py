"""What the report's figures mark besides the data: the 90 % interval an equivalence verdict
reads, each comparison's verdict word, the solve rates with exact intervals, and a reference
line (chance) that is kept as a note when it lies off the data's range."""

from __future__ import annotations

from collections.abc import Sequence

from biaslab.report.compare import MIN_PAIRS, Comparison
from biaslab.report.values import fmt_value

WORD_COLORS = {"helps": "tab:green", "hurts": "tab:red", "equivalent": "tab:blue"}
CI90_LABEL = "90 % CI (what the equivalence test reads)"


def word(c: Comparison) -> str:
    """The verdict's word, as the report's verdict line starts."""
    return c.kind + (" (solve rate)" if "(solve rate)" in c.verdict else "")


def draw_ci90(ax, c: Comparison, pos: float, s: float, numeric: bool, color) -> None:
    """The TOST's 90 % interval as a thick translucent bar under the 95 % error bar."""
    eq = c.equivalence
    if eq is None or c.test is None or len(c.usable) < MIN_PAIRS:
        return
    lo, hi = eq.ci_low * s, eq.ci_high * s
    style = {"color": color, "linewidth": 6, "alpha": 0.3, "solid_capstyle": "butt"}
    if numeric:
        ax.plot([pos, pos], [lo, hi], **style)
    else:
        ax.plot([lo, hi], [pos, pos], **style)


def draw_word(ax, c: Comparison, pos: float, s: float, numeric: bool) -> None:
    """The verdict word: above the interval against width, right of the axes in a forest."""
    color = WORD_COLORS.get(c.kind, "0.35")
    if not numeric:
        ax.text(1.01, pos, word(c), transform=ax.get_yaxis_transform(), va="center",
                fontsize=8, color=color)  # fmt: skip
        return
    top = max([c.diffs[seed] * s for seed in c.usable] or [0.0])
    if c.test is not None and len(c.usable) >= MIN_PAIRS:
        top = max(top, c.test.ci_high * s)
    ax.annotate(word(c), (pos, top), xytext=(0, 4), textcoords="offset points", ha="center",
                va="bottom", fontsize=6.5, color=color, rotation=90)  # fmt: skip


def legend_entries(ax) -> None:
    """Legend-only artists for the marks every difference figure carries."""
    ax.plot([], [], color="0.5", linewidth=6, alpha=0.3, solid_capstyle="butt", label=CI90_LABEL)


def twin_note(comparisons: Sequence[Comparison]) -> dict[int, str]:
    """For each tested comparison whose runs another value repeats bit for bit: " ≡ auto",
    to append to its series name (the twin is drawn once, as that series)."""
    out: dict[int, list[str]] = {}
    for c in comparisons:
        if c.twin is not None:
            out.setdefault(id(c.twin), []).append(fmt_value(c.value))
    return {k: " ≡ " + " ≡ ".join(v) for k, v in out.items()}


def same_runs(comparisons: Sequence[Comparison], baseline) -> dict[str, object]:
    """Within a group: value (as fmt_value) → the value whose runs it repeats bit for bit
    (the baseline for identical runs, else the twin's value)."""
    return {
        fmt_value(c.value): baseline if c.identical else c.twin.value
        for c in comparisons
        if c.identical or c.twin is not None
    }


def merge_twin_lines(lines: dict[str, list], targets: dict[str, list]) -> dict[str, list]:
    """Draw a line once when, in every group, its arm repeats the same other arm's runs: that
    arm's line is dropped and the other is named "x ≡ y". ``targets[label]``: per group, the
    label of the arm it repeats there, or None."""
    merged: dict[str, str] = {}  # dropped label → the label it repeats
    for label, per_group in targets.items():
        first = per_group[0] if per_group else None
        if first is not None and first in lines and all(t == first for t in per_group):
            merged[label] = first
    out = {}
    for label, points in lines.items():
        if label not in merged:
            alias = [other.split("=", 1)[-1] for other, t in merged.items() if t == label]
            out[label + "".join(f" ≡ {a}" for a in alias)] = points
    return out


def solve_panel(ax, rows: Sequence[tuple[str, Comparison]], baseline: str) -> None:
    """Solve rate per arm with its exact (Clopper–Pearson) 95 % interval, a row per arm and
    group; the baseline's row once per group."""
    entries: list[tuple[str, int, int, tuple[float, float], str]] = []
    seen: set[str] = set()
    for group, c in rows:
        sv = c.solve
        if group not in seen:
            seen.add(group)
            entries.append((f"{group}: {baseline}", sv.solved_base, sv.n, sv.ci_base, "0.35"))
        color = WORD_COLORS.get(c.kind, "0.35")
        entries.append((f"{group}: {fmt_value(c.value)}", sv.solved, sv.n, sv.ci, color))
    n = len(entries)
    for i, (_, k, total, (lo, hi), color) in enumerate(entries):
        y, rate = n - 1 - i, k / total
        ax.errorbar([rate], [y], xerr=[[rate - lo], [hi - rate]], fmt="o", color=color,
                    capsize=3, ms=5)  # fmt: skip
        ax.text(1.04, y, f"{k}/{total}", va="center", fontsize=7, color=color,
                transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set_yticks(range(n), [e[0] for e in entries][::-1], fontsize=7)
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("solve rate, exact 95 % CI")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title("solved / not solved", fontsize=9)


def reference_or_note(ax, value: float, label: str, log_y: bool) -> None:
    """The reference line where the data reach near it; otherwise a note in the legend, so
    that an axis does not stretch from chance to the data and flatten the differences."""
    lo, hi = ax.dataLim.y0, ax.dataLim.y1
    span = max(hi - lo, abs(hi) * 1e-3, 1e-12)
    near = lo - 0.5 * span <= value <= hi + 0.5 * span
    if log_y or near:
        ax.axhline(value, color="0.3", linestyle="--", linewidth=1, label=label)
        return
    where = "below" if value < lo else "above"
    # a legend entry without a mark: the legend finds it a place that hides no data
    ax.plot([], [], linestyle="none", label=f"{label}: {value:g}, {where} the axis")
