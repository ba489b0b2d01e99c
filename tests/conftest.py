"""Tests compose the real configs from conf/ with tiny budgets and run them in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One dataset cache for the whole session: MNIST-1D is generated once."""
    return tmp_path_factory.mktemp("data")


def compose_cfg(overrides: list[str], output_dir: Path, data_dir: Path) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"paths.data_dir={data_dir}", *overrides],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg


@pytest.fixture
def make_cfg(tmp_path, data_dir):
    """``make_cfg("model.width=8", ...)``: the real config, a small budget, no logger."""

    def make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        base = [
            "trainer=cpu",
            "trainer.max_steps=40",
            "trainer.val_check_interval=20",
            "logger=none",
        ]
        return compose_cfg([*base, *overrides], output_dir or tmp_path, data_dir)

    return make
