"""The run pipeline, one for a lone run and for K packed seeds: config → members → data,
model(s), task → Lightning fit and test → one results.json (+ one logger run) per member."""

from __future__ import annotations

import functools
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from biaslab.config import ConfigError, config_error
from biaslab.data.download import DataUnavailable
from biaslab.records.atomic import DiskFull, full_disk_error
from biaslab.records.results import FILENAME
from biaslab.resume import rundir, signals
from biaslab.resume.signals import Interrupted, StopOnSignal
from biaslab.run import distributed, tracking
from biaslab.run.job import build_task, build_trainer, make_loggers
from biaslab.run.outcome import Outcome, outcome
from biaslab.run.record import RunRecord, close_and_write, git_commit, job_overrides, versions
from biaslab.run.summary import print_summary
from biaslab.seed_parallel import parallel_seeds
from biaslab.seed_parallel.members import Member
from biaslab.seed_parallel.members import members as plan_members
from biaslab.tasks.guards import Diverged

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    # Device banners and a per-fit FutureWarning would bury the run's own summary.
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning.pytorch.accelerators.cuda",
        "lightning.fabric.utilities.seed",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)


def _best_metric(cfg: DictConfig) -> str:
    from hydra.utils import get_object

    from biaslab.tasks.registry import TASKS

    data = get_object(cfg.data._target_)
    return cfg.optimized_metric or TASKS[getattr(data, "task", "classification")].best_metric


def _nothing_to_do(cfg: DictConfig, done: list[dict[str, Any]], members) -> Outcome:
    """resume=true on a finished run of this config: its records stay as they are."""
    job_dir = Path(cfg.paths.output_dir)
    print(
        f"nothing to do: {job_dir} holds a finished run of this config "
        f"({', '.join(sorted({r['status'] for r in done}))}); its {FILENAME} is unchanged",
        file=sys.stderr,
    )
    records = [RunRecord.from_data(r) for r in done]
    return outcome(_best_metric(cfg), records, [m.out_dir for m in members], job_dir)


def _save_on_signal(cfg: DictConfig, ckpt: Path, trainer: L.Trainer) -> str | None:
    """The checkpoint a requeued job resumes from, when checkpointing is on."""
    if not (cfg.checkpoint.every_n_steps or cfg.checkpoint.at_end):
        return None
    trainer.save_checkpoint(ckpt, weights_only=False)
    return str(ckpt)


def data_spec(data: Any) -> dict[str, Any]:
    """What the report needs to know of the data without importing it: the task kind and
    the number of classes (chance level is 1/classes)."""
    spec = data.spec
    return {"task": spec.task, "num_classes": spec.num_classes}


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> Outcome:
    """Train and test one configuration, or its K = ``train.parallel_seeds`` seeds packed into
    one model. Always leaves one results.json per run (K: in ``<paths.output_dir>/seed=<s>/``)
    with status ``completed``, ``diverged`` (NaN/inf loss: that run stopped, step recorded; a
    packed job's other members train on), ``interrupted`` (SIGTERM/SIGINT: signal and step
    recorded, :class:`~biaslab.resume.signals.Interrupted` re-raised) or ``failed`` (the error
    recorded, then re-raised; a bad config value raises :class:`ConfigError` before any
    training). A folder that holds a finished run or a checkpoint is checked first
    (:mod:`biaslab.resume.rundir`): refused without writing anything, or, for ``resume=true`` on a
    finished run of this config, left as it is. ``callbacks`` are added to the trainer's own.

    Returns ``{"status", "metrics", "params", "optimized" (cfg.optimized_metric, else the task's
    best_metric; NaN when a run diverged), "results" (path), "run" (where the logger keeps it),
    "wall_s"}``; a packed job's metrics are its completed members' means, and ``members`` lists
    each member's seed, status, metrics, results path and run.
    """
    quiet_lightning()
    rundir.resolve_k(cfg)  # train.steps_per_call=auto: what runs, in the record too
    invalid = config_error(cfg)  # the one check of the config: acted on below
    k = parallel_seeds(cfg)
    members = plan_members(cfg, k, job_overrides())
    done = rundir.check(cfg, members, invalid)  # before anything in the folder is written
    if done is not None:
        return _nothing_to_do(cfg, done, members)
    # a packed job shares one device: build_trainer refuses more, recording why
    nprocs = distributed.ranks_to_spawn(cfg) if k == 1 and invalid is None else 0
    if nprocs:  # several devices: every rank runs this function (see biaslab.run.distributed)
        return distributed.spawn(functools.partial(train, callbacks=callbacks), cfg, nprocs)
    job = _set_up(cfg, members)
    raising: BaseException | None = None
    try:
        with signals.handled(job.stop):
            if invalid is not None:
                raise invalid  # recorded as the run's failure, before any training
            _fit_and_test(job, callbacks)
    except Interrupted as e:
        raising = e
        for i, r in enumerate(job.records):
            r.metrics.update(_metrics_so_far(job.task, i))
            r.interrupt(e.record())
        raise
    except BaseException as e:
        raising = e
        for r in job.records:
            r.fail(e)
        raise
    finally:
        _finalize(job, raising)
    return outcome(_best_metric(cfg), job.records, [m.out_dir for m in members], job.dir)


@dataclass
class _Job:
    """What a job's steps share: its config and members, one record and one logger per
    member, the task once built, its checkpoint, the signal handler and the timing."""

    cfg: DictConfig
    members: Sequence[Member]
    records: list[RunRecord]
    loggers: list[Any]
    stop: StopOnSignal
    started: float = field(default_factory=time.perf_counter)
    timing: dict[str, float] = field(default_factory=dict)
    task: Any = None
    # global rank 0 writes results.json and logs, alone
    rank_zero: bool = field(default_factory=lambda: distributed.global_rank() == 0)

    @property
    def dir(self) -> Path:
        return Path(self.cfg.paths.output_dir)

    @property
    def ckpt(self) -> Path:
        return self.dir / rundir.CHECKPOINT


def _set_up(cfg: DictConfig, members: Sequence[Member]) -> _Job:
    """One record per member, with where and how it runs, before anything can fail."""
    # torch's intra-op threads: a run's timing means little without them (a joblib worker
    # gets cores // n_jobs)
    provenance = {
        "versions": versions(),
        "git_commit": git_commit(),
        "torch_threads": torch.get_num_threads(),
    }
    seeds = [m.seed for m in members]
    job_dir = str(Path(cfg.paths.output_dir))
    # a packed seed also records its job: the seeds packed with it and the job's folder
    packing = [
        {"seed_parallel": {"seeds": seeds, "member": i, "job_dir": job_dir}}
        if len(members) > 1
        else {}
        for i in range(len(members))
    ]
    records = [
        RunRecord(m.cfg, m.overrides, provenance, **extra)
        for m, extra in zip(members, packing, strict=True)
    ]
    ckpt = Path(job_dir) / rundir.CHECKPOINT
    stop = StopOnSignal(functools.partial(_save_on_signal, cfg, ckpt))
    return _Job(cfg, members, records, [None] * len(members), stop)


def _fit_and_test(job: _Job, callbacks: Sequence[L.Callback]) -> None:
    """Build the task, data, loggers and trainer; fit (from the checkpoint on resume), save
    the end state, test; each member's metrics and status into its record."""
    cfg, records = job.cfg, job.records
    if cfg.get("overwrite"):  # replaced: its checkpoint must not be resumed later
        job.ckpt.unlink(missing_ok=True)
    job.task, data, params = build_task(cfg, job.members)
    task = job.task
    if job.rank_zero:
        job.loggers = make_loggers(job.members, params)
    for r, lg in zip(records, job.loggers, strict=True):
        r.update(params=params, data=data_spec(data), run=tracking.run_location(lg))
    trainer = build_trainer(cfg, task, job.loggers, [job.stop, *callbacks])
    resume_from = job.ckpt if cfg.resume and job.ckpt.exists() else None
    if cfg.resume and resume_from is None:
        log.info("resume=true but %s does not exist: starting from scratch", job.ckpt)
    for r in records:
        r.update(
            device=str(trainer.strategy.root_device),
            world_size=trainer.world_size,
            resumed_from=str(resume_from) if resume_from else None,
        )
    t0 = time.perf_counter()
    try:
        # weights_only: a checkpoint is data, never code to run
        trainer.fit(task, datamodule=data, ckpt_path=resume_from, weights_only=True)
    except Diverged as e:
        for i in task.live():  # a lone run; a packed job's members are retired already
            task.mark_diverged(i, e)
        log.warning("run diverged: %s", e)
    job.timing["fit_s"] = time.perf_counter() - t0
    for i, r in enumerate(records):
        r.metrics.update(task.member_metrics(i))
    if task.live():
        if cfg.checkpoint.at_end:
            # the full state (optimizer, loops), not weights only: resume needs all of it
            trainer.save_checkpoint(job.ckpt, weights_only=False)
        t0 = time.perf_counter()
        trainer.test(task, datamodule=data, verbose=False)
        job.timing["test_s"] = time.perf_counter() - t0
    for i, r in enumerate(records):
        r.metrics.update(task.member_metrics(i))  # the test's, added to the fit's
        if i in task.retired:
            r.update(status="diverged", divergence=task.retired[i]["divergence"])
        else:
            r.update(status="completed")


def _finalize(job: _Job, raising: BaseException | None) -> None:
    """Close the loggers and write every record, whatever happened; a logger's lost files
    (a full disk) are raised once every record is written."""
    job.timing["total_s"] = time.perf_counter() - job.started
    # a rank whose parent is gone writes nothing: no one asked for this run any more
    write = job.rank_zero and not distributed.parent_gone()
    lost = close_and_write(job.records, job.members, job.loggers, job.timing, raising, write)
    if lost is not None and raising is None:
        raise lost


def _metrics_so_far(task, i: int) -> dict[str, Any]:
    try:
        return task.member_metrics(i) if task is not None else {}
    except Exception:  # interrupted before the task had a trainer: no metrics yet
        return {}


def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: train, print a summary, return the optimized metric to a sweeper.
    A refused config or folder: one line, exit 2 (in a sweep, a refused folder stops it); a
    signal: one line, exit 128 + its number (a sweep stops there); a full disk: one line,
    exit 1."""
    # on a full disk every log line's file handler would print a traceback (Hydra's train.log,
    # W&B's debug log): the record and the one line below say what happened
    logging.raiseExceptions = False
    try:
        result = train(cfg)
    except (ConfigError, DataUnavailable) as e:
        job = ""
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            if not isinstance(e, rundir.FolderInUse):
                raise  # Hydra records the job as failed and runs the rest of the sweep
            # a sweeper that makes jobs as it goes (Optuna) meets a folder refusal only here:
            # the sweep stops at it, as a basic sweep stops before its first job
            job = f"job {HydraConfig.get().job.num}: "
        print(f"error: {job}{e}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as e:
        then = "; resume with resume=true" if e.checkpoint else ""
        print(f"{e} in {cfg.paths.output_dir}: recorded as interrupted{then}", file=sys.stderr)
        sys.exit(e.exit_code)
    except Exception as e:  # a full disk: an OSError, or what a library made of one
        full = full_disk_error(e)
        if full is None:
            raise
        if not isinstance(full, DiskFull):
            full = DiskFull(full.filename or cfg.paths.output_dir)
        print(f"error: {full}", file=sys.stderr)
        sys.exit(1)
    print_summary(result)
    return result["optimized"]
