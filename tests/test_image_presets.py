"""The Fashion-MNIST presets: each composes and validates, evaluates the test-time shifts, and
its sweep expands to the grid its header states (the bias-free sweep included)."""

from __future__ import annotations

import pytest

from biaslab.config import validate

from .helpers import header, jobs, runs


def values(grid: list[dict[str, str]], key: str) -> set[str]:
    # the sweeper writes a preset's booleans as True/False and the command line's as given
    return {job[key].lower() for job in grid}


@pytest.mark.parametrize("name", ["images_bias_vs_width", "images_first_layer"])
def test_image_presets_log_the_shifted_test_accuracy(make_cfg, name):
    cfg = make_cfg(f"+experiment={name}")
    validate(cfg)
    assert cfg.data._target_.endswith("FashionMNIST")
    shift = cfg.callbacks.shift_eval
    assert shift._target_ == "biaslab.callbacks.shift_eval.ShiftEval"
    assert set(shift.shifts) == {"brighter", "darker", "contrast_0.5", "contrast_0.25"}


def test_images_bias_vs_width_grid_matches_its_header():
    grid = jobs("images_bias_vs_width")
    assert values(grid, "model.width") == {"4", "16", "32"}
    assert values(grid, "model.bias") == {"true", "false", "auto"}
    assert values(grid, "model.norm") == {"none", "batch"}
    assert len(grid) == 18 and runs("images_bias_vs_width") == 90
    assert "model.width ∈ {4, 16, 32} × 5 seeds = 90 runs in 18 jobs" in header(
        "images_bias_vs_width"
    )


def test_the_bias_free_sweep_pairs_the_norm_shift():
    grid = jobs(
        "images_bias_vs_width",
        "model.bias=false",
        "model.head_bias=false",
        "model.norm=batch",
        "model.norm_shift=true,false",
        "data.normalize=true,false",
        "model.width=4,16",
    )
    assert len(grid) == 8
    assert all(
        job["model.bias"].lower() == "false" and job["model.norm"] == "batch" for job in grid
    )
    assert values(grid, "model.norm_shift") == {"true", "false"}
    assert "model.norm_shift=true,false data.normalize=true,false" in header("images_bias_vs_width")


def test_images_first_layer_grid_matches_its_header():
    grid = jobs("images_first_layer")
    assert values(grid, "data.normalize") == {"false", "true"}
    assert values(grid, "model.first_bias") == {"true", "false"}
    assert len(grid) == 8 and runs("images_first_layer") == 40
    assert "--interaction data.normalize=true" in header("images_first_layer")
