"""One run: config → data → model → Lightning fit and test → results.json (+ W&B)."""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from biaslab import distributed, tracking
from biaslab.config import ConfigError, validate
from biaslab.data.download import DataUnavailable
from biaslab.guards import Diverged, DivergenceGuard
from biaslab.models.build import build_model
from biaslab.results import write_results
from biaslab.seed_parallel import parallel_seeds
from biaslab.task import TASKS

PACKAGES = (
    "biaslab",
    "torch",
    "torchvision",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "wandb",
    "mnist1d",
    "numpy",
)

log = logging.getLogger(__name__)


def _quiet_lightning() -> None:
    # Device banners and a per-fit FutureWarning would bury the run's own summary.
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning.pytorch.accelerators.cuda",
        "lightning.fabric.utilities.seed",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return rev.stdout.strip() if rev.returncode == 0 else None


def _overrides() -> list[str]:
    if not HydraConfig.initialized():
        return []
    # as typed: an override like model.width=${nope} must be recorded, not resolved
    return list(OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False))


def _scalar(metrics: dict[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return None if value is None else float(value)


def _resolved(cfg: DictConfig) -> Any:
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # a broken interpolation is itself the error to record
        return OmegaConf.to_container(cfg, resolve=False)


def periodic_checkpoint(cfg: DictConfig, ckpt_dir: Path) -> list[ModelCheckpoint]:
    """``checkpoints/last.ckpt`` every ``checkpoint.every_n_steps`` steps (none when null)."""
    if not cfg.checkpoint.every_n_steps:
        return []
    return [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="last",
            every_n_train_steps=cfg.checkpoint.every_n_steps,
            save_top_k=1,
            enable_version_counter=False,
        )
    ]


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Train and test one configuration; always leaves results.json in ``paths.output_dir``,
    with status ``completed``, ``diverged`` (NaN/inf loss: training stopped, step recorded) or
    ``failed`` (the error recorded, then re-raised; a bad config value raises
    :class:`ConfigError` before any training). ``callbacks`` are added to the trainer's own.

    Returns ``{"status", "metrics", "params", "optimized" (cfg.optimized_metric, else the task's
    best_metric; NaN when diverged), "results" (path), "run" (where the logger keeps it),
    "wall_s"}``.
    """
    _quiet_lightning()
    if parallel_seeds(cfg) > 1:  # K seeds packed in this one job: one results.json per seed
        from biaslab.seed_parallel.run import train as train_seed_parallel

        return train_seed_parallel(cfg, callbacks)
    nprocs = distributed.ranks_to_spawn(cfg)
    if nprocs:  # several devices: every rank runs this function (see biaslab.distributed)
        return distributed.spawn(functools.partial(train, callbacks=callbacks), cfg, nprocs)
    rank_zero = distributed.global_rank() == 0  # writes results.json and logs, alone
    started = time.perf_counter()
    out_dir = Path(cfg.paths.output_dir)
    config = _resolved(cfg)
    secrets = tracking.secrets_in(config)
    record: dict[str, Any] = {
        "status": "failed",
        "seed": config.get("seed"),  # as given, if it does not resolve
        "overrides": tracking.redact(_overrides(), secrets),
        "config": tracking.redact(config, secrets),
        "versions": _versions(),
        "git_commit": _git_commit(),
        "metrics": {},
    }
    logger = None
    metrics: dict[str, Any] = {}
    try:
        validate(cfg)
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        data = instantiate(cfg.data)
        spec = data.spec
        model = build_model(cfg.model, spec.input_shape, spec.num_classes)
        scheduler = instantiate(cfg.scheduler) if "_target_" in cfg.scheduler else None
        task = TASKS[spec.task](model, spec.num_classes, instantiate(cfg.optimizer), scheduler)
        record["params"] = task.params
        logger = tracking.make_logger(cfg) if rank_zero else None
        record["run"] = tracking.run_location(logger)
        if logger is not None:
            logger.log_metrics(task.params, step=0)
        ckpt_dir = out_dir / "checkpoints"
        trainer = instantiate(
            cfg.trainer,
            logger=logger if logger is not None else False,
            callbacks=[DivergenceGuard(), *periodic_checkpoint(cfg, ckpt_dir), *callbacks],
            enable_checkpointing=bool(cfg.checkpoint.every_n_steps),
        )
        record["device"] = str(trainer.strategy.root_device)
        record["world_size"] = trainer.world_size
        resume_from = ckpt_dir / "last.ckpt" if cfg.resume else None
        if resume_from is not None and not resume_from.exists():
            log.info("resume=true but %s does not exist: starting from scratch", resume_from)
            resume_from = None
        record["resumed_from"] = str(resume_from) if resume_from else None

        t0 = time.perf_counter()
        try:
            # weights_only: a checkpoint is data, never code to run
            trainer.fit(task, datamodule=data, ckpt_path=resume_from, weights_only=True)
        except Diverged as e:
            record["status"] = "diverged"
            record["divergence"] = {
                "step": e.step,
                "loss": e.loss,
                "last_finite_loss": e.last_finite_loss,
                "message": str(e),
            }
            log.warning("run diverged: %s", e)
        record["timing"] = {"fit_s": time.perf_counter() - t0}
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        if record["status"] != "diverged":
            if cfg.checkpoint.at_end:
                # the full state (optimizer, loops), not weights only: resume needs all of it
                trainer.save_checkpoint(ckpt_dir / "last.ckpt", weights_only=False)
            t0 = time.perf_counter()
            trainer.test(task, datamodule=data, verbose=False)
            record["timing"]["test_s"] = time.perf_counter() - t0
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
            record["status"] = "completed"
        metrics.update(task.best_val)
        metrics.update({"steps": trainer.global_step, "epochs": trainer.current_epoch})
    except BaseException as e:
        record["error"] = {
            "type": type(e).__name__,
            "message": str(e),
            "traceback": traceback.format_exc(limit=20),
        }
        raise
    finally:
        record["metrics"] = metrics
        record["timing"] = {**record.get("timing", {}), "total_s": time.perf_counter() - started}
        path = write_results(out_dir, record) if rank_zero else out_dir / "results.json"
        tracking.finish(logger, {**record.get("params", {}), **metrics}, record["status"])
    optimized = _scalar(metrics, cfg.optimized_metric or task.best_metric)
    return {
        "status": record["status"],
        "metrics": metrics,
        "params": record["params"],
        "optimized": float("nan") if record["status"] == "diverged" else optimized,
        "results": str(path),
        "run": record.get("run"),
        "wall_s": record["timing"]["total_s"],
    }


def print_summary(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    m, p = result["metrics"], result["params"]
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    # the task's main test metrics (accuracy, or MSE for regression) and any *_over_baseline
    if result["status"] != "completed":
        table.add_row("status", f"[bold red]{result['status']}[/]")
    shown = [k for k in ("test/acc", "test/mse") if k in m] or ["test/acc"]
    shown += sorted(k for k in m if k.startswith("test/") and k.endswith("_over_baseline"))
    for key in shown:
        table.add_row(key, f"{m.get(key, float('nan')):.4f}")
    best = next((k for k in m if k.startswith("val/") and k.endswith("_best")), "val/acc_best")
    step = m.get(best + "_step", -1)
    table.add_row(
        f"{best.removesuffix('_best')} (best)",
        f"{m[best]:.4f}  at step {step}" if step >= 0 else "none (no validation ran)",
    )
    table.add_row(
        "params",
        f"{p['params/total']:,} total, {p['params/bias']:,} in biases, "
        f"{p['params/norm']:,} in norms",
    )
    table.add_row("wall time", f"{result['wall_s']:.1f} s ({m.get('steps')} steps)")
    table.add_row("results", result["results"])
    if result.get("run"):
        table.add_row("run", result["run"])
    console = Console()
    if not console.is_terminal:  # a log or a pipe: keep paths whole instead of folding at 80
        console.width = 200
    console.print(table)


def main(cfg: DictConfig) -> float | None:
    """Hydra entry point: train, print a summary, return the optimized metric to a sweeper."""
    try:
        result = train(cfg)
    except (ConfigError, DataUnavailable) as e:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra records the job as failed and runs the rest of the sweep
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if "members" in result:  # a seed-parallel job
        from biaslab.seed_parallel.run import print_summary as print_members

        print_members(result)
    else:
        print_summary(result)
    return result["optimized"]
