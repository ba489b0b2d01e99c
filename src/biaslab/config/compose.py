"""The project's config composed in-process, as ``python train.py OVERRIDES`` would see it.

The benchmark and the tests both run :func:`biaslab.run.train.train` on the real ``conf/`` without
a command line; this is the one place that composes it for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from biaslab.adapters.hydra_sweep import expand

ROOT = Path(__file__).resolve().parents[3]  # the checkout: conf/ and train.py live here
CONF_DIR = ROOT / "conf"


def compose_with_hydra(overrides: Sequence[str], conf_dir: Path = CONF_DIR) -> DictConfig:
    """The whole composed config, ``hydra`` node included (run and sweep dirs, launcher)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(Path(conf_dir).resolve()), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def compose_job(
    overrides: Sequence[str], output_dir: Path, conf_dir: Path = CONF_DIR
) -> DictConfig:
    """The config of one job writing to ``output_dir``. HydraConfig is set as in a real job,
    so what reads it (the W&B run's name, the overrides in results.json) sees the overrides."""
    cfg = compose_with_hydra(overrides, conf_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg


def sweep_jobs(preset: str, overrides: Sequence[str] = (), conf_dir: Path = CONF_DIR) -> list[dict]:
    """The overrides of every job ``python train.py -m +experiment=PRESET OVERRIDES`` launches,
    as Hydra's basic sweeper expands them (a key given on the command line wins)."""
    cfg = compose_with_hydra([f"+experiment={preset}"], conf_dir)
    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    return [dict(o.split("=", 1) for o in job) for job in expand([*params, *overrides])]
