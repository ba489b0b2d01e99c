"""What the report's figures mark: the 90 % interval, the verdict words, twins drawn once,
the solve rates, and a chance line that does not squash the data."""

from __future__ import annotations

from matplotlib.figure import Figure

from biaslab.report.build import ReportOptions, build_report
from biaslab.report.figure_marks import CI90_LABEL, merge_twin_lines
from biaslab.report.figures import difference_figure
from biaslab.report.load import load_files
from biaslab.report.plots import sweep_figure
from tests.conftest import ROOT


def _capture(monkeypatch) -> list[Figure]:
    drawn: list[Figure] = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: drawn.append(fig) or save(fig, *a, **k)
    )
    return drawn


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_difference_figure_draws_twins_once_with_words_and_the_90_interval(tmp_path, monkeypatch):
    drawn = _capture(monkeypatch)
    runs = load_files([str(ROOT / "results" / "bias_vs_norm_paired" / "runs")])
    rep = build_report(runs, ReportOptions("model.bias"))
    difference_figure(tmp_path / "d.png", rep)
    (fig,) = drawn
    labels = fig.legends[0].texts if fig.legends else fig.axes[0].get_legend().texts
    names = [t.get_text() for t in labels]
    # `auto` is `false` under batch norm (identical, not drawn) and `true` without a norm
    # (its twin): one series, named for both
    assert "model.norm=none, bias ≡ auto" in names
    assert not any(n.endswith("auto") and "≡" not in n for n in names)
    assert CI90_LABEL in names
    words = [w for w in _texts(fig) if w in ("helps", "hurts", "equivalent", "inconclusive")]
    kinds = [c.kind for c in rep.comparisons if not c.identical and c.twin is None]
    assert sorted(words) == sorted(kinds)


def test_solve_rates_get_their_own_panel(tmp_path, monkeypatch):
    drawn = _capture(monkeypatch)
    runs = load_files([str(ROOT / "results" / "forget_bias_first_design" / "runs")])
    rep = build_report(
        runs, ReportOptions("model.forget_bias", "test/mse_over_baseline", "0", pool=True)
    )
    difference_figure(tmp_path / "d.png", rep)
    (fig,) = drawn
    assert len(fig.axes) == 2
    panel = fig.axes[1]
    assert panel.get_xlabel() == "solve rate, exact 95 % CI"
    solved = [c for c in rep.comparisons if c.solve is not None]
    counts = {t.get_text() for t in panel.texts}
    assert {f"{c.solve.solved}/{c.solve.n}" for c in solved} <= counts


def test_sweep_panel_zooms_to_the_data_and_notes_chance(tmp_path, monkeypatch):
    drawn = _capture(monkeypatch)
    lines = {
        "model.bias=false": [(4.0, 4064.0, 86.8, 0.3), (16.0, 33536.0, 90.5, 0.2)],
        "model.bias=true": [(4.0, 4092.0, 87.0, 0.3), (16.0, 33648.0, 90.6, 0.2)],
    }
    level = {"ylabel": "test/acc (%)", "limits": (0.0, 100.0)}
    sweep_figure(tmp_path / "far.png", lines, title="t", reference=(10.0, "chance"), **level)
    near = {k: [(w, p, m - 75.0, h) for w, p, m, h in v] for k, v in lines.items()}
    sweep_figure(tmp_path / "near.png", near, title="t", reference=(10.0, "chance"), **level)
    far_fig, near_fig = drawn
    ax = far_fig.axes[0]
    assert ax.get_ylim()[0] > 80  # chance at 10 % no longer stretches the axis to 0
    notes = [line.get_label() for line in ax.get_lines()]
    assert "chance: 10, below the axis" in notes
    assert "chance: 10, below the axis" in [t.get_text() for t in ax.get_legend().texts]
    assert any(line.get_label() == "chance" for line in near_fig.axes[0].get_lines())


def test_merge_twin_lines_only_where_every_group_repeats_the_same_arm():
    lines = {"b=false": [1], "b=true": [2], "b=auto": [3]}
    assert list(merge_twin_lines(lines, {"b=auto": ["b=false", "b=false"]})) == [
        "b=false ≡ auto",
        "b=true",
    ]
    # a twin of `false` at one width and its own runs at another: both lines stay
    assert list(merge_twin_lines(lines, {"b=auto": ["b=false", None]})) == list(lines)
