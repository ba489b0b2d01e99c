"""results/answer.png: one small panel per claim, a row per verdict: every seed's paired
difference, the 95 % interval (and the 90 % one an equivalence verdict reads), the ±δ band
and the verdict's word."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from biaslab.report.answer_data import Answer, Verdict, row_labels
from biaslab.report.claims import CLAIMS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLORS = {"helps": "tab:green", "hurts": "tab:red", "equivalent": "tab:blue"}
COLUMNS = 3
DPI = 110


def _word(v: Verdict) -> str:
    cmp = v.cmp
    word = cmp["kind"] + (" (solve)" if "(solve rate)" in cmp["verdict"] else "")
    if v.decisive and not v.survives:
        word += "†"
    return word


def _panel(ax, vs: list[Verdict], data: dict, title: str, wrap: int = 48) -> None:
    s = data["scale"]
    rows = [v for v in vs if v.cmp["twin_of"] is None and not v.cmp["identical"]]
    n = len(rows)
    if data["margin"] is not None:
        d = data["margin"] * s
        ax.axvspan(-d, d, color="0.85", zorder=0)
    ax.axvline(0.0, color="black", linewidth=0.8, zorder=1)
    for i, v in enumerate(rows):
        y, cmp = n - 1 - i, v.cmp
        color = COLORS.get(cmp["kind"], "0.45")
        used = [cmp["diffs"][seed] * s for seed in cmp["usable"]]
        bad = [cmp["diffs"][seed] * s for seed in cmp["not_learned"]]
        ax.scatter(used, [y + 0.22] * len(used), s=7, color=color, alpha=0.5, linewidths=0)
        ax.scatter(bad, [y + 0.22] * len(bad), s=12, marker="x", color="0.3", linewidths=0.8)
        t, eq = cmp["test"], cmp["equivalence"]
        if t is not None and len(cmp["usable"]) >= 3:
            ax.plot([t["ci_low"] * s, t["ci_high"] * s], [y, y], color=color, linewidth=1.2)
            ax.plot([t["diff"] * s], [y], "o", color=color, markersize=3.5)
        if eq is not None and len(cmp["usable"]) >= 3 and not data.get("interval"):
            ax.plot([eq["ci_low"] * s, eq["ci_high"] * s], [y, y], color=color, linewidth=3.2,
                    alpha=0.6, solid_capstyle="butt")  # fmt: skip
        ax.text(1.02, y, _word(v), transform=ax.get_yaxis_transform(), va="center",
                fontsize=6.5, color=color)  # fmt: skip
    ax.set_yticks(range(n), row_labels(rows, data["group_keys"])[::-1], fontsize=6.5)
    ax.set_ylim(-0.7, n - 0.3)
    ax.tick_params(axis="x", labelsize=6.5)
    unit = "pts" if s == 100.0 else data["metric"].split("/")[-1]
    ax.set_xlabel(f"{data['compare'].split('.')[-1]} − {data['baseline']} ({unit})", fontsize=6.5)
    if data.get("log_scale"):  # differences of log metric: label the axis with the ratios
        ax.xaxis.set_major_formatter(lambda x, _: f"×{math.exp(x):.2g}")
        ax.set_xlabel(f"{data['compare'].split('.')[-1]} / {data['baseline']} ({unit} ratio, "
                      "log axis)", fontsize=6.5)  # fmt: skip
    # wrap=True: a title still too wide wraps again at the figure edge instead of running off it
    ax.set_title("\n".join(textwrap.wrap(title, wrap)), fontsize=7.5, loc="left", wrap=True)
    ax.grid(True, axis="x", alpha=0.3)


def answer_figure(ans: Answer, path: Path) -> Path:
    draw(ans).savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def draw(ans: Answer) -> Figure:
    """One panel per claim, COLUMNS to a row, and the legend above them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sizes = [
        max(1, sum(v.cmp["twin_of"] is None and not v.cmp["identical"] for v in ans.verdicts[i]))
        for i in range(len(CLAIMS))
    ]
    rows = [sizes[r : r + COLUMNS] for r in range(0, len(sizes), COLUMNS)]
    heights = [max(r) * 0.19 + 0.9 for r in rows]
    fig = Figure(figsize=(13, sum(heights) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), COLUMNS, height_ratios=heights)
    for i, claim in enumerate(CLAIMS):
        ax = fig.add_subplot(grid[i // COLUMNS, i % COLUMNS])
        data = ans.reports[claim.report]
        study = f" [study: {data['interval']}]" if data.get("interval") else ""
        # the last column's titles end at the figure's edge, not at a neighbour's labels
        wrap = 36 if i % COLUMNS == COLUMNS - 1 else 48
        _panel(ax, ans.verdicts[i], data, f"{claim.claim} — {claim.data}{study}", wrap)
    handles = [
        Line2D([], [], color="0.3", linewidth=1.2, marker="o", markersize=3.5,
               label="mean paired difference, 95 % CI"),
        Line2D([], [], color="0.3", linewidth=3.2, alpha=0.6, label="90 % CI (what TOST reads)"),
        Line2D([], [], color="0.3", marker="o", linestyle="", markersize=3, alpha=0.5,
               label="one seed"),
        Line2D([], [], color="0.3", marker="x", linestyle="", label="pair that did not learn"),
        Patch(color="0.85", label="±δ equivalence margin"),
        Line2D([], [], linestyle="", label="† decisive in its report, not after global Holm"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize=7.5)
    return fig
