"""The report's built-bias figure (biaslab.report.built_bias_figure): drawn for runs that
recorded built_bias/conv*, one panel per group, each arm's mean per conv layer; linked from
report.md; absent for runs without the measurement."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from biaslab import report
from biaslab.report.built_bias_figure import BUILT, CONST, per_layer

from .helpers import bias_sweep, build, write_run


def _shares(bias: bool, seed: int) -> dict[str, float]:
    """Three conv layers; bias=false builds more of a constant, deeper layers more."""
    out = {"test/acc": 0.7 + 0.01 * seed + (0.02 if bias else 0.0)}
    for i in range(3):
        built = (0.1 + 0.2 * i + 0.02 * seed) * (0.5 if bias else 1.0)
        out[f"built_bias/conv{i}"] = built
        out[f"const_share/conv{i}"] = 0.3 + 0.1 * i if bias else built
    return out


def _sweep(root, widths=(8, 16)) -> None:
    for w in widths:
        for s in range(4):
            for bias in (False, True):
                m = _shares(bias, s)
                write_run(root, f"w{w}_s{s}_{bias}", seed=s, bias=bias, width=w, metrics=m)


def test_each_arm_holds_one_value_per_seed_and_layer(tmp_path):
    _sweep(tmp_path, widths=(8,))
    # a seed run twice (--pool): its two values are averaged into one
    again = {**_shares(False, 0), "built_bias/conv0": 0.5}
    write_run(tmp_path, "w8_s0_False_again", seed=0, bias=False, width=8, metrics=again)
    (group,) = build(tmp_path, pool=True).groups
    off, on = group.arms
    layers = per_layer(off, BUILT)
    assert list(layers) == [0, 1, 2]
    assert layers[0] == pytest.approx([(0.1 + 0.5) / 2, 0.12, 0.14, 0.16])
    assert layers[2] == pytest.approx([0.5 + 0.02 * s for s in range(4)])
    assert per_layer(on, CONST)[1] == pytest.approx([0.4] * 4)


def test_runs_that_measured_it_get_the_figure_one_panel_per_group(tmp_path, monkeypatch):
    drawn: list[Figure] = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: drawn.append(fig) or save(fig, *a, **k)
    )
    _sweep(tmp_path)
    rep = build(tmp_path)
    md = report.write_outputs(rep, tmp_path / "out").read_text()
    assert [p.name for p in rep.plots] == ["difference.png", "sweep.png", "built_bias.png"]
    assert "![built_bias](built_bias.png)" in md
    assert (tmp_path / "out" / "built_bias.png").stat().st_size > 1000
    fig = drawn[-1]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["model.width=8", "model.width=16"]
    # per panel: each arm's built share (solid) and pre-activation share (dashed) per layer
    means = {bars.get_label(): list(bars.lines[0].get_ydata()) for bars in panels[0].containers}
    assert means["model.bias=false: built"] == pytest.approx([0.13, 0.33, 0.53])
    assert means["model.bias=true: pre-activation"] == pytest.approx([0.3, 0.4, 0.5])


def test_runs_without_the_measurement_get_no_figure(tmp_path):
    bias_sweep(tmp_path, gain=0.03, widths=(8, 16))
    rep = build(tmp_path)
    report.write_outputs(rep, tmp_path / "out")
    assert "built_bias.png" not in [p.name for p in rep.plots]
    assert not (tmp_path / "out" / "built_bias.png").exists()


def test_a_long_cell_label_is_wrapped_so_panel_titles_do_not_overlap():
    from biaslab.report.built_bias_figure import panel_title

    label = "data.const_channel=false model.padding_mode=circular model.width=32"
    lines = panel_title(label).splitlines()
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert " ".join(lines) == label  # every key=value kept whole
    assert panel_title("regime=small size=wide") == "regime=small size=wide"
