"""The run pipeline, one for a lone run and for K packed seeds: config → members → data,
model(s), task → Lightning fit and test → one results.json (+ one logger run) per member."""

from __future__ import annotations

import functools
import logging
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from biaslab import distributed, tracking
from biaslab.config import ConfigError, validate
from biaslab.data.download import DataUnavailable
from biaslab.guards import Diverged
from biaslab.job import build_task, build_trainer, make_loggers
from biaslab.record import RunRecord, git_commit, job_overrides, versions
from biaslab.results import FILENAME
from biaslab.seed_parallel import parallel_seeds
from biaslab.seed_parallel.members import members as plan_members
from biaslab.summary import print_summary

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


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else float("nan")


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Train and test one configuration, or its K = ``train.parallel_seeds`` seeds packed into
    one model. Always leaves one results.json per run (K: in ``<paths.output_dir>/seed=<s>/``)
    with status ``completed``, ``diverged`` (NaN/inf loss: that run stopped, step recorded; a
    packed job's other members train on) or ``failed`` (the error recorded, then re-raised; a
    bad config value raises :class:`ConfigError` before any training). ``callbacks`` are added
    to the trainer's own.

    Returns ``{"status", "metrics", "params", "optimized" (cfg.optimized_metric, else the task's
    best_metric; NaN when a run diverged), "results" (path), "run" (where the logger keeps it),
    "wall_s"}``; a packed job's metrics are its completed members' means, and ``members`` lists
    each member's seed, status, metrics, results path and run.
    """
    quiet_lightning()
    k = parallel_seeds(cfg)
    # a packed job shares one device: build_trainer refuses more, recording why
    nprocs = distributed.ranks_to_spawn(cfg) if k == 1 else 0
    if nprocs:  # several devices: every rank runs this function (see biaslab.distributed)
        return distributed.spawn(functools.partial(train, callbacks=callbacks), cfg, nprocs)
    rank_zero = distributed.global_rank() == 0  # writes results.json and logs, alone
    started = time.perf_counter()
    members = plan_members(cfg, k, job_overrides())
    provenance = {"versions": versions(), "git_commit": git_commit()}
    seeds = [m.seed for m in members]
    job_dir = str(cfg.paths.output_dir)
    records = [
        RunRecord(m.cfg, m.overrides, provenance)
        if k == 1
        else RunRecord(
            m.cfg,
            m.overrides,
            provenance,
            seed_parallel={"seeds": seeds, "member": i, "job_dir": job_dir},
        )
        for i, m in enumerate(members)
    ]
    loggers: list[Any] = [None] * len(members)
    task = None
    timing: dict[str, float] = {}
    try:
        validate(cfg)
        task, data, params = build_task(cfg, members)
        if rank_zero:
            loggers = make_loggers(members, params)
        for r, lg in zip(records, loggers, strict=True):
            r.update(params=params, run=tracking.run_location(lg))
        trainer = build_trainer(cfg, task, loggers, callbacks)
        ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
        resume_from = ckpt if cfg.resume and ckpt.exists() else None
        if cfg.resume and resume_from is None:
            log.info("resume=true but %s does not exist: starting from scratch", ckpt)
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
        timing["fit_s"] = time.perf_counter() - t0
        for i, r in enumerate(records):
            r.metrics.update(task.member_metrics(i))
        if task.live():
            if cfg.checkpoint.at_end:
                # the full state (optimizer, loops), not weights only: resume needs all of it
                trainer.save_checkpoint(ckpt, weights_only=False)
            t0 = time.perf_counter()
            trainer.test(task, datamodule=data, verbose=False)
            timing["test_s"] = time.perf_counter() - t0
        for i, r in enumerate(records):
            r.metrics.update(task.member_metrics(i))  # the test's, added to the fit's
            if i in task.retired:
                r.update(status="diverged", divergence=task.retired[i]["divergence"])
            else:
                r.update(status="completed")
    except BaseException as e:
        for r in records:
            r.fail(e)
        raise
    finally:
        timing["total_s"] = time.perf_counter() - started
        for r, m, lg in zip(records, members, loggers, strict=True):
            if rank_zero:
                r.write(m.out_dir, timing)
            else:
                r.data["timing"] = dict(timing)
            tracking.finish(lg, {**r.data.get("params", {}), **r.metrics}, r.status)
    return _result(cfg, task, records, members)


def _result(cfg, task, records: list[RunRecord], members) -> dict[str, Any]:
    metric = cfg.optimized_metric or task.best_metric
    values = [r.metrics.get(metric) for r in records]
    diverged = any(r.status == "diverged" for r in records)
    optimized = (
        float("nan") if diverged else None if None in values else _mean(list(map(float, values)))
    )
    out = {
        "status": "diverged" if diverged else "completed",
        "params": records[0].data["params"],
        "optimized": optimized,
        "wall_s": records[0].data["timing"]["total_s"],
    }
    if len(records) == 1:
        r = records[0]
        return {
            **out,
            "metrics": r.metrics,
            "results": str(members[0].out_dir / FILENAME),
            "run": r.data.get("run"),
        }
    done = [r.metrics for r in records if r.status == "completed"]
    keys = sorted({key for m in done for key in m})
    return {
        **out,
        "metrics": {key: _mean([float(m[key]) for m in done if key in m]) for key in keys},
        "results": str(Path(cfg.paths.output_dir) / "seed=*" / FILENAME),
        "run": None,
        "members": [
            {
                "seed": r.data["seed"],
                "status": r.status,
                "metrics": r.metrics,
                "results": str(m.out_dir / FILENAME),
                "run": r.data.get("run"),
            }
            for r, m in zip(records, members, strict=True)
        ],
    }


def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: train, print a summary, return the optimized metric to a sweeper."""
    try:
        result = train(cfg)
    except (ConfigError, DataUnavailable) as e:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra records the job as failed and runs the rest of the sweep
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print_summary(result)
    return result["optimized"]
