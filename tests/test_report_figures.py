"""The level figure's axes: what a reader of a published sweep panel sees."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from biaslab.report.plots import sweep_figure


def test_one_width_keeps_both_arms_near_the_middle_of_each_panel(tmp_path, monkeypatch):
    # a panel with one width (overparam's width 256 at its own lr): autoscaling the log x axis
    # to the arms' small sideways shift put them at the panel's two edges
    drawn: list[Figure] = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: drawn.append(fig) or save(fig, *a, **k)
    )
    lines = {
        "model.bias=false": [(256.0, 407_306.0, 91.0, 0.5)],
        "model.bias=true": [(256.0, 408_074.0, 94.8, 0.4)],
    }
    sweep_figure(tmp_path / "one.png", lines, title="one width", ylabel="test/acc (%)")
    (fig,) = drawn
    for ax in fig.axes:
        left, right = (math.log(v) for v in ax.get_xlim())
        for line in ax.get_lines():
            for x in line.get_xdata():
                # in log units: within the middle half of the axis
                assert abs(math.log(x) - (left + right) / 2) < (right - left) / 4, ax.get_xlabel()
