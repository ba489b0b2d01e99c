"""What one job trains: its members' data and models, the task (one model, or K packed), the
loggers (one per member) and the Lightning Trainer. The same code builds a lone run and a
seed-parallel job: a lone run is a job of one member."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from lightning.pytorch.profilers import PassThroughProfiler
from omegaconf import DictConfig, OmegaConf

from biaslab.config import ConfigError
from biaslab.models.build import build_model
from biaslab.models.params import count_params
from biaslab.resume import fingerprint
from biaslab.resume.checkpointing import AtomicCheckpointIO, PeriodicCheckpoint
from biaslab.run import tracking
from biaslab.run.steps_per_call import StepsLogger, steps_per_call, trainer_overrides
from biaslab.seed_parallel import KEY
from biaslab.seed_parallel.members import Member, check, same_splits
from biaslab.tasks.base import StepSettings, Task
from biaslab.tasks.guards import DivergenceGuard
from biaslab.tasks.registry import TASKS


def periodic_checkpoint(cfg: DictConfig, ckpt_dir: Path) -> list[PeriodicCheckpoint]:
    """``checkpoints/last.ckpt`` every ``checkpoint.every_n_steps`` steps (none when null)."""
    if not cfg.checkpoint.every_n_steps:
        return []
    return [PeriodicCheckpoint(ckpt_dir, cfg.checkpoint.every_n_steps)]


def configured_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """Every entry of ``cfg.callbacks`` that has a ``_target_`` (conf/callbacks/)."""
    node = cfg.get("callbacks") or {}
    return [instantiate(c) for c in node.values() if c is not None and "_target_" in c]


def build_task(cfg: DictConfig, members: Sequence[Member]) -> tuple[Task, Any, dict[str, int]]:
    """The task, its data module and one member's parameter counts. Each member's data and
    model are built as a lone run with its seed builds them (same RNG draws, same order);
    members whose data differs only in the batch order share the loaded splits."""
    k = len(members)
    if k > 1:
        check(cfg, k)
    datas, models = [], []
    for i, m in enumerate(members):
        L.seed_everything(m.cfg.seed, workers=True, verbose=False)
        data = instantiate(m.cfg.data)
        if i and same_splits(m.cfg, members[0].cfg):
            data.splits = datas[0].splits
        spec = data.spec
        if k > 1 and spec.task != "classification":
            name = m.cfg.data._target_.rsplit(".", 1)[-1]
            raise ConfigError(
                KEY,
                k,
                f"1 for the {spec.task} task of data {name}: seed-parallel "
                "training packs classifiers only",
            )
        models.append(build_model(m.cfg.model, spec.input_shape, spec.num_classes))
        datas.append(data)
    params = count_params(models[0])  # every member's own counts
    scheduler = instantiate(cfg.scheduler) if "_target_" in cfg.scheduler else None
    steps = step_settings(cfg)
    optimizer = instantiate(cfg.optimizer)
    if k == 1:
        task = TASKS[spec.task](models[0], spec.num_classes, optimizer, scheduler, steps=steps)
        data = datas[0]
    else:
        from biaslab.seed_parallel.pack import pack

        seeds = [m.seed for m in members]
        task, data = pack(cfg, seeds, models, datas, optimizer, scheduler, steps)
    # the data module is built from cfg.data, whose keys are its arguments: K is handed over
    data.steps_per_call = steps.steps_per_call
    return task, data, params


def step_settings(cfg: DictConfig) -> StepSettings:
    """How the task steps: train.steps_per_call > 1 (one device only, see
    config.optimization.steps_per_call_fits) moves the trainer's clipping into the task."""
    calls = steps_per_call(cfg)
    clipping = (
        {
            "clip_val": OmegaConf.select(cfg, "trainer.gradient_clip_val"),
            "clip_algorithm": OmegaConf.select(cfg, "trainer.gradient_clip_algorithm"),
        }
        if calls > 1
        else {}
    )
    no_decay = bool(OmegaConf.select(cfg, "train.no_decay_bias_norm"))
    return StepSettings(no_decay_bias_norm=no_decay, steps_per_call=calls, **clipping)


def make_loggers(members: Sequence[Member], params: dict[str, int]) -> list[Logger | None]:
    """One logger per member (None for ``logger=none``), the parameter counts logged first."""
    loggers = [tracking.make_logger(m.cfg, concurrent=len(members) > 1) for m in members]
    for logger in loggers:
        if logger is not None:
            logger.log_metrics(params, step=0)
    return loggers


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler, without its per-call cost. Lightning wraps every hook,
    callback hook and strategy call in ``profiler.profile(name)`` (~48 times a training step);
    the default's ``profile`` is a generator context manager (~2 µs each to build, enter and
    leave) that times nothing. One reusable ``nullcontext`` does the same nothing."""

    _nothing = nullcontext()

    def profile(self, action_name: str):
        return self._nothing


def build_trainer(
    cfg: DictConfig,
    task: Task,
    loggers: Sequence[Logger | None],
    callbacks: Sequence[L.Callback],
) -> L.Trainer:
    """The Trainer of ``cfg.trainer`` with the divergence guard, the periodic checkpoint, the
    config's fingerprint in every checkpoint, atomic checkpoint writes, the configured
    callbacks and ``callbacks``; a packed job's metrics are routed to its members' loggers.
    Without ``trainer.profiler`` it profiles nothing at no cost (:class:`NoProfiler`)."""
    if len(loggers) == 1:
        logger: Any = loggers[0] if loggers[0] is not None else False
        guard: L.Callback = DivergenceGuard()
    else:
        from biaslab.seed_parallel.loggers import MemberLoggers
        from biaslab.tasks.packed import MemberGuard

        routed = {p: lg for p, lg in zip(task.prefixes, loggers, strict=True) if lg is not None}
        logger, guard = (MemberLoggers(routed) if routed else False), MemberGuard()
    calls = steps_per_call(cfg)
    if calls > 1 and logger:
        logger = StepsLogger(
            logger,
            calls,
            lambda: task.trainer.global_step,
            task.epochs_done,
        )
    ckpt_dir = Path(cfg.paths.output_dir) / "checkpoints"
    # a profiler the user asked for (trainer.profiler=simple, ...) is kept
    profiler = {} if OmegaConf.select(cfg, "trainer.profiler") else {"profiler": NoProfiler()}
    trainer = instantiate(
        cfg.trainer,
        **profiler,
        **trainer_overrides(cfg, calls),
        logger=logger,
        callbacks=[
            guard,
            fingerprint.StoreFingerprint(fingerprint.of(cfg)),
            *periodic_checkpoint(cfg, ckpt_dir),
            *configured_callbacks(cfg),
            *callbacks,
        ],
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=False,  # biaslab's own PeriodicCheckpoint, or none
    )
    if len(loggers) > 1 and trainer.world_size > 1:
        raise ConfigError(
            "trainer.devices",
            OmegaConf.select(cfg, "trainer.devices"),
            f"1 with {KEY}={len(loggers)}: the members share one device",
        )
    return trainer
