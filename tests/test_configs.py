"""Every option of every config group composes, validates and instantiates."""

from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger

from biaslab.config import ConfigError, validate
from biaslab.models.build import build_model

from .conftest import CONF

GROUPS = ("model", "data", "optimizer", "scheduler", "trainer", "logger")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# model options built for images, composed with data=cifar10; the others take MNIST-1D's (1, 40)
IMAGE_MODELS = {"resnet": (3, 32, 32), "vgg": (3, 32, 32)}
# the sequence problems and the LSTM only compose with each other
PARTNERS = {
    ("model", "lstm"): ["data=adding"],
    ("data", "adding"): ["model=lstm"],
    ("data", "copy"): ["model=lstm"],
}


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_instantiates(make_cfg, group, option, tmp_path):
    images = group == "model" and option in IMAGE_MODELS
    partners = PARTNERS.get((group, option), ["data=cifar10"] if images else [])
    cfg = make_cfg(f"{group}={option}", *partners)
    if group == "trainer" and cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="trainer.accelerator=gpu"):
            validate(cfg)
        pytest.skip(f"no CUDA device here: validation refuses trainer={option}, as it should")
    validate(cfg)
    node = cfg[group]
    if "_target_" not in node:  # scheduler=none, logger=none
        return
    if group == "model":
        shape = IMAGE_MODELS.get(option, (1, 40))
        obj = build_model(node, shape, num_classes=10)
        assert obj(torch.zeros(2, *shape)).shape == (2, 10)
    elif group == "optimizer":
        obj = instantiate(node)([torch.nn.Parameter(torch.zeros(1))])
        assert isinstance(obj, torch.optim.Optimizer)
    elif group == "scheduler":
        opt = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
        obj = instantiate(node)(opt)
        assert isinstance(obj, torch.optim.lr_scheduler.LRScheduler) and obj.optimizer is opt
    elif group == "data":
        obj = instantiate(node)
        assert isinstance(obj, L.LightningDataModule) and obj.batch_size == node.batch_size
    elif group == "trainer":
        obj = instantiate(node)
        assert isinstance(obj, L.Trainer) and obj.max_steps == cfg.trainer.max_steps
    else:
        assert group == "logger"
        assert isinstance(instantiate(node), Logger)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_presets_compose(make_cfg, name):
    validate(make_cfg(f"+experiment={name}"))


def test_every_config_file_is_covered():
    files = {p for p in CONF.rglob("*.yaml")}
    covered = {CONF / g / f"{o}.yaml" for g, o in OPTIONS}
    covered |= {CONF / "experiment" / f"{n}.yaml" for n in EXPERIMENTS}
    covered |= {CONF / "hparams_search" / "optuna.yaml", CONF / "hydra" / "launcher" / "slurm.yaml"}
    # instantiated by tests/test_shift_eval.py, test_built_bias.py, test_train_eval.py and
    # test_callbacks.py; default is empty
    callbacks = ("shift_eval", "built_bias", "train_eval", "lr_monitor", "default")
    covered |= {CONF / "callbacks" / f"{n}.yaml" for n in callbacks}
    covered |= {
        CONF / "config.yaml",
        CONF / "paths" / "default.yaml",
        CONF / "hydra" / "default.yaml",
    }
    assert files <= covered, sorted(str(Path(f).relative_to(CONF)) for f in files - covered)


def test_optuna_search_composes(make_cfg):
    cfg = make_cfg("hparams_search=optuna")
    assert cfg.optimized_metric == "val/acc"


@pytest.mark.parametrize("precision", ["16-mixed", "16", 16])
def test_fused_optimizer_with_clipped_16_bit_gradients_is_refused(make_cfg, precision):
    clipped = (f"trainer.precision={precision}", "+trainer.gradient_clip_val=1")
    with pytest.raises(ConfigError) as e:
        validate(make_cfg(*clipped))
    assert e.value.key == "optimizer.fused"
    validate(make_cfg(*clipped, "optimizer.fused=false"))  # unfused: Lightning unscales first
    validate(make_cfg("trainer.precision=bf16-mixed", "+trainer.gradient_clip_val=1"))
