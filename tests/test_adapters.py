"""Each private API of a dependency that biaslab uses (src/biaslab/adapters) still means what
biaslab relies on: these fail when Lightning or W&B changes it, before a run silently misbehaves."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.loggers import WandbLogger
from torch.utils.data import DataLoader, TensorDataset

from biaslab.adapters.hydra_sweep import BASIC_SWEEPER, compose_job, expand
from biaslab.adapters.lightning_launch import relaunches_script
from biaslab.adapters.lightning_loop import validates_now
from biaslab.adapters.wandb_run import forget_run, started_run


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Watch(L.Callback):
    """The steps where validates_now says yes, and the steps where validation really ran."""

    def __init__(self):
        self.predicted, self.validated = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if validates_now(trainer):
            self.predicted.append(trainer.global_step)

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.validated.append(trainer.global_step)


def test_validates_now_names_exactly_the_steps_lightning_validates_at(tmp_path):
    data = DataLoader(TensorDataset(torch.randn(40, 2)), batch_size=2)
    watch = Watch()
    trainer = L.Trainer(
        max_steps=12,
        val_check_interval=5,
        limit_val_batches=1,
        callbacks=[watch],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Tiny(), data, data)
    assert watch.validated == [5, 10]
    assert watch.predicted == watch.validated


def test_a_wandb_loggers_run_is_read_and_forgotten_without_starting_one(tmp_path):
    logger = WandbLogger(save_dir=str(tmp_path), mode="offline")
    assert started_run(logger) is None  # reading never calls wandb.init
    run = logger.experiment
    try:
        assert started_run(logger) is run
        forget_run(logger)
        assert started_run(logger) is None
    finally:
        run.finish()


@pytest.mark.parametrize(("strategy", "relaunch"), [("ddp", True), ("ddp_spawn", False)])
def test_relaunches_script_only_for_the_strategy_that_reruns_the_command_line(
    strategy, relaunch, monkeypatch
):
    for var in ("LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "SLURM_NTASKS"):
        monkeypatch.delenv(var, raising=False)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy=strategy, logger=False)
    assert relaunches_script(trainer.strategy) is relaunch
    monkeypatch.setenv("LOCAL_RANK", "1")  # ranks started from outside (torchrun, srun)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(rank_zero_only, "rank", rank_zero_only.rank)  # a Trainer sets it
    outside = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)
    assert not relaunches_script(outside.strategy)


def test_hydra_expands_a_sweep_in_its_launchers_order():
    assert expand(["a=1,2", "b=x"]) == [["a=1", "b=x"], ["a=2", "b=x"]]
    # a key given again (the command line after a preset's params) keeps its first place
    assert expand(["a=1,2", "b=3", "a=5"]) == [["a=5", "b=3"]]
    assert expand(["a=range(0,3)"], max_batch_size=2) == [["a=0"], ["a=1"], ["a=2"]]


def test_hydra_composes_a_sweep_job_and_names_its_basic_sweeper():
    from hydra import compose, initialize_config_dir

    from biaslab.config.compose import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        sweep = compose("config", overrides=["model.width=8"], return_hydra_config=True)
        assert sweep.hydra.sweeper._target_ == BASIC_SWEEPER
        job = compose_job(sweep, ["model.width=16"])
    assert job.model.width == 16 and "hydra" in job
