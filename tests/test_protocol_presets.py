"""The experiment presets of the tuned protocol (issue 17): each composes and validates, and
its sweep expands to the grid its header states, the fixed-lr variant included."""

from __future__ import annotations

import pytest

from biaslab.config import validate
from biaslab.config.compose import compose_with_hydra

from .helpers import header, jobs, runs

MNIST1D_TUNED = [
    "bias_vs_width",
    "bias_vs_width_256",
    "bias_vs_depth",
    "bias_vs_norm",
    "overparam",
    "first_layer",
]


def values(grid: list[dict[str, str]], key: str) -> set[str]:
    return {job[key] for job in grid}


@pytest.mark.parametrize("name", MNIST1D_TUNED)
def test_tuned_protocol_defaults(make_cfg, name):
    cfg = make_cfg(f"+experiment={name}")
    validate(cfg)
    assert cfg.scheduler._target_.endswith("CosineAnnealingLR")
    assert cfg.scheduler.eta_min == 0.0 and cfg.scheduler.T_max == cfg.trainer.max_steps
    assert cfg.data.test_samples == 10000
    lrs = sorted(float(v) for v in values(jobs(name), "optimizer.lr"))
    assert len(lrs) >= 3 and 0.01 in lrs  # at least 3 values around 1e-2
    text = header(name)
    # a time for the whole grid: measured where it has run, marked as an estimate elsewhere
    assert ("ESTIMATED" in text) != ("measured 2026" in text)
    assert "--select optimizer.lr --by val/acc_best" in text
    assert ", ".join(f"{v:g}" for v in lrs) in text  # the header states the grid it sweeps


@pytest.mark.parametrize("name", MNIST1D_TUNED)
def test_fixed_lr_variant(make_cfg, name):
    cfg = make_cfg(f"+experiment={name}", "scheduler=none", "data.test_samples=null")
    assert "_target_" not in cfg.scheduler and cfg.data.test_samples is None
    grid = jobs(name, "optimizer.lr=0.01")
    assert values(grid, "optimizer.lr") == {"0.01"}
    assert len(jobs(name)) == len(values(jobs(name), "optimizer.lr")) * len(grid)


def test_bias_vs_width_grid():
    grid = jobs("bias_vs_width")
    assert values(grid, "model.width") == {"2", "4", "8", "16", "32", "64", "128"}
    assert len(grid) == 2 * 7 * 3 and runs("bias_vs_width") == 2 * 7 * 3 * 5
    assert values(jobs("bias_vs_width_256"), "model.width") == {"256"}
    assert runs("bias_vs_width_256") == 2 * 4 * 5


def test_bias_vs_depth_grid(make_cfg):
    grid = jobs("bias_vs_depth")
    assert values(grid, "model.depth") == {"3", "5", "8"} and runs("bias_vs_depth") == 3 * 2 * 3 * 5
    for depth in (3, 5, 8):  # every depth composes and passes the geometry check
        cfg = make_cfg("+experiment=bias_vs_depth", f"model.depth={depth}")
        validate(cfg)
        assert cfg.model.width == 32 and cfg.model.kernel_size == 3


def test_overparam_grid(make_cfg):
    cfg = make_cfg("+experiment=overparam")
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and cfg.train.no_decay_bias_norm
    grid = jobs("overparam")
    assert values(grid, "model.width") == {"64", "128", "256"}  # 1×, 2×, 4× of W = 64
    assert values(grid, "optimizer.weight_decay") == {"0", "0.05"}
    assert values(grid, "model.dropout") == {"0", "0.1"}
    assert runs("overparam") == 3 * 2 * 2 * 2 * 3 * 5


def test_first_layer_grid(make_cfg):
    cfg = make_cfg("+experiment=first_layer")
    assert cfg.model.bias is True and cfg.model.width == 8  # biases on everywhere else
    grid = jobs("first_layer")
    assert values(grid, "data.shift") == {"0", "3", "-3"}
    assert values(grid, "data.scale") == {"1", "10", "0.1"}
    assert values(grid, "model.first_bias") == {"True", "False"}
    assert runs("first_layer") == 3 * 3 * 2 * 3 * 10
    validate(make_cfg("+experiment=first_layer", "data.normalize=false"))  # the raw variant


def test_forget_bias_grid(make_cfg):
    grid = jobs("forget_bias")
    assert values(grid, "data.length") == {"100", "200", "400"}
    assert values(grid, "model.forget_bias") == {"0", "1", "2", "null", "chrono"}
    assert len(values(grid, "seed")) == 10 and len(grid) == 3 * 5 * 10
    cfg = make_cfg("+experiment=forget_bias", "model.forget_bias=null")
    validate(cfg)
    assert cfg.model.forget_bias is None  # PyTorch's default init: the control arm
    full = compose_with_hydra(["+experiment=forget_bias"])
    assert full.trainer.val_check_interval == 250 and full.trainer.max_steps == 6000
    assert "ESTIMATED" in header("forget_bias") and "does NOT fit" in header("forget_bias")
