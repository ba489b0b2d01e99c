"""One seed-parallel job: K member configs → K models packed into one → Lightning fit and
test → one results.json and one logger run per member.

Member k is the run ``seed=<seed+k>`` would be: its config is the job's with that seed (so
``data.shuffle_seed: ${seed}`` follows), its model is built by the same code under that torch
seed and copied into the packed model, and its record lands in ``<output dir>/seed=<s>/``
with that seed in ``seed``, ``overrides`` and ``config``. The job's checkpoint (all members)
stays in ``<output dir>/checkpoints/``; ``timing`` in each record is the whole job's.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab import tracking
from biaslab.config import ConfigError, validate
from biaslab.guards import Diverged
from biaslab.models.build import build_model
from biaslab.models.packed import NotPackable, PackedModel
from biaslab.models.params import count_params
from biaslab.results import FILENAME, write_results
from biaslab.seed_parallel import KEY, parallel_seeds
from biaslab.seed_parallel.data import SeedParallelData
from biaslab.seed_parallel.loggers import MemberLoggers
from biaslab.seed_parallel.task import MemberGuard, SeedParallelClassifier, member_prefix
from biaslab.train import (
    _git_commit,
    _overrides,
    _quiet_lightning,
    _resolved,
    _versions,
    periodic_checkpoint,
)

log = logging.getLogger(__name__)

PACKABLE_MODELS = ("biaslab.models.cnn.CNN", "biaslab.models.mlp.MLP")
# Their update of an element depends on that element's gradient history alone, so packed
# members keep separate optimizer states.
ELEMENTWISE_OPTIMIZERS = tuple(
    f"torch.optim.{name}"
    for name in ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam")
)
_SEED_OVERRIDE = re.compile(r"^(\+\+|\+|~)?seed(=|$)")


def member_dir(out_dir: Path, seed: int) -> Path:
    return out_dir / f"seed={seed}"


def member_overrides(overrides: list[str], seed: int) -> list[str]:
    """The job's overrides with ``seed=<seed>`` in place of any seed override."""
    out = [o for o in overrides if not _SEED_OVERRIDE.match(o)]
    return [*out, f"seed={seed}"]


def member_name(base: str | None, seed: int) -> str:
    """The W&B run name: the job's (its overrides by default) with ``seed=<seed>``."""
    # split at the commas that start a new key=value, not those inside a list value
    items = re.split(r",(?=[^,=\[\]]+=)", base) if base else []
    return ",".join([*(i for i in items if not _SEED_OVERRIDE.match(i)), f"seed={seed}"])


def member_config(cfg: DictConfig, seed: int, out_dir: Path) -> DictConfig:
    """The job's config as the run with ``seed`` would have it, writing to ``out_dir``."""
    member = copy.deepcopy(cfg)
    with open_dict(member):
        member.seed = seed
        member.paths.output_dir = str(out_dir)
        if str(member.logger.get("_target_", "")).endswith("WandbLogger"):
            member.logger.name = member_name(cfg.logger.get("name") or tracking.job_name(), seed)
    return member


def check(cfg: DictConfig, k: int) -> None:
    """Refuse what cannot be packed or would couple the members, before any work."""
    target = str(cfg.model.get("_target_"))
    if target not in PACKABLE_MODELS:
        raise ConfigError(
            KEY,
            k,
            f"1 with model {target.rsplit('.', 1)[-1]}: seed-parallel "
            "training packs the CNN and MLP models only",
        )
    target = str(cfg.optimizer.get("_target_"))
    if target not in ELEMENTWISE_OPTIMIZERS:
        raise ConfigError(
            "optimizer._target_",
            target,
            f"an elementwise optimizer with {KEY}={k} "
            f"({', '.join(ELEMENTWISE_OPTIMIZERS)}): others couple the members",
        )
    if OmegaConf.select(cfg, "trainer.precision") == "16-mixed":
        raise ConfigError(
            "trainer.precision",
            "16-mixed",
            f"another precision with {KEY}={k}: 16-mixed's loss scaler skips "
            "every member's step when one member's gradients overflow",
        )


def _data_identity(cfg: DictConfig) -> Any:
    """What decides a member's splits: its data config except the batch order."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    data.pop("shuffle_seed", None)
    return data


def _build_members(mcfgs: list[DictConfig], k: int):
    """Each member's data module and model, built as a normal run with its seed builds them;
    members whose data configs differ only in the batch order share the loaded splits."""
    datas, models = [], []
    for i, m in enumerate(mcfgs):
        L.seed_everything(m.seed, workers=True, verbose=False)
        data = instantiate(m.data)
        if i and _data_identity(m) == _data_identity(mcfgs[0]):
            data.splits = datas[0].splits
        spec = data.spec
        if spec.task != "classification":
            raise ConfigError(
                KEY,
                k,
                f"1 for the {spec.task} task of data "
                f"{m.data._target_.rsplit('.', 1)[-1]}: seed-parallel "
                "training packs classifiers only",
            )
        models.append(build_model(m.model, spec.input_shape, spec.num_classes))
        datas.append(data)
    return datas, models


def _error(e: BaseException) -> dict[str, str]:
    return {
        "type": type(e).__name__,
        "message": str(e),
        "traceback": traceback.format_exc(limit=20),
    }


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else float("nan")


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Train and test the K = ``train.parallel_seeds`` members of ``cfg`` in one job; always
    leaves one results.json per member in ``<paths.output_dir>/seed=<s>/`` (status
    ``completed``, ``diverged`` or ``failed``, as a normal run's), and one W&B run per member.

    A member whose loss becomes NaN/inf is recorded as diverged and retired; the others train
    on. Returns what :func:`biaslab.train.train` returns, with the members' mean metrics
    (``optimized`` is NaN when any member diverged) and ``members``: each member's seed,
    status, metrics, results path and run.
    """
    _quiet_lightning()
    started = time.perf_counter()
    out_dir = Path(cfg.paths.output_dir)
    k = parallel_seeds(cfg)
    base = cfg.get("seed")
    if isinstance(base, int) and not isinstance(base, bool):
        seeds, dirs = (
            [base + i for i in range(k)],
            [member_dir(out_dir, base + i) for i in range(k)],
        )
    else:  # validate() refuses it below; the one failed record goes where a run's would
        seeds, dirs = [base], [out_dir]
    mcfgs = [member_config(cfg, s, d) for s, d in zip(seeds, dirs, strict=True)]
    job_overrides, versions, commit = _overrides(), _versions(), _git_commit()
    records = []
    for i, (s, m) in enumerate(zip(seeds, mcfgs, strict=True)):
        config = _resolved(m)
        secrets = tracking.secrets_in(config)
        records.append(
            {
                "status": "failed",
                "seed": s,
                "overrides": tracking.redact(member_overrides(job_overrides, s), secrets),
                "config": tracking.redact(config, secrets),
                "versions": versions,
                "git_commit": commit,
                "seed_parallel": {"seeds": seeds, "member": i, "job_dir": str(out_dir)},
                "metrics": {},
            }
        )
    loggers: list[Any] = [None] * len(seeds)
    timing: dict[str, float] = {}
    try:
        validate(cfg)
        check(cfg, k)
        datas, models = _build_members(mcfgs, k)
        try:
            packed = PackedModel(models)
        except NotPackable as e:
            raise ConfigError(KEY, k, f"1 for this model ({e})") from e
        if cfg.model.get("compile"):
            packed.compile()
        params = count_params(models[0])  # every member's: one member's own counts
        data = SeedParallelData(datas)
        spec = data.spec
        scheduler = instantiate(cfg.scheduler) if "_target_" in cfg.scheduler else None
        task = SeedParallelClassifier(
            packed, seeds, spec.num_classes, instantiate(cfg.optimizer), scheduler, params
        )
        for i, m in enumerate(mcfgs):
            records[i]["params"] = params
            loggers[i] = tracking.make_logger(m, concurrent=True)
            records[i]["run"] = tracking.run_location(loggers[i])
            if loggers[i] is not None:
                loggers[i].log_metrics(params, step=0)
        routed = {member_prefix(s): lg for s, lg in zip(seeds, loggers, strict=True) if lg}
        ckpt_dir = out_dir / "checkpoints"
        trainer = instantiate(
            cfg.trainer,
            logger=MemberLoggers(routed) if routed else False,
            callbacks=[MemberGuard(), *periodic_checkpoint(cfg, ckpt_dir), *callbacks],
            enable_checkpointing=bool(cfg.checkpoint.every_n_steps),
        )
        if trainer.world_size > 1:
            raise ConfigError(
                "trainer.devices",
                OmegaConf.select(cfg, "trainer.devices"),
                f"1 with {KEY}={k}: the members share one device",
            )
        resume_from = ckpt_dir / "last.ckpt" if cfg.resume else None
        if resume_from is not None and not resume_from.exists():
            log.info("resume=true but %s does not exist: starting from scratch", resume_from)
            resume_from = None
        for r in records:
            r["device"] = str(trainer.strategy.root_device)
            r["resumed_from"] = str(resume_from) if resume_from else None

        t0 = time.perf_counter()
        try:
            trainer.fit(task, datamodule=data, ckpt_path=resume_from, weights_only=True)
        except Diverged:
            log.warning("every member diverged: training stopped")
        timing["fit_s"] = time.perf_counter() - t0
        for i, r in enumerate(records):
            r["metrics"] = task.member_metrics(i)
        if task.live():
            if cfg.checkpoint.at_end:
                trainer.save_checkpoint(ckpt_dir / "last.ckpt", weights_only=False)
            t0 = time.perf_counter()
            trainer.test(task, datamodule=data, verbose=False)
            timing["test_s"] = time.perf_counter() - t0
        for i, r in enumerate(records):
            r["metrics"].update(task.member_metrics(i))  # the test's, added to the fit's
            if i in task.retired:
                r["status"], r["divergence"] = "diverged", task.retired[i]["divergence"]
            else:
                r["status"] = "completed"
    except BaseException as e:
        for r in records:
            r["error"] = _error(e)
        raise
    finally:
        timing["total_s"] = time.perf_counter() - started
        for r, d, lg in zip(records, dirs, loggers, strict=True):
            r["timing"] = dict(timing)
            write_results(d, r)
            tracking.finish(lg, {**r.get("params", {}), **r["metrics"]}, r["status"])

    members = [
        {
            "seed": r["seed"],
            "status": r["status"],
            "metrics": r["metrics"],
            "results": str(d / FILENAME),
            "run": r.get("run"),
        }
        for r, d in zip(records, dirs, strict=True)
    ]
    done = [r["metrics"] for r in records if r["status"] == "completed"]
    keys = sorted({key for m in done for key in m})
    mean = {key: _mean([float(m[key]) for m in done if key in m]) for key in keys}
    any_diverged = any(r["status"] == "diverged" for r in records)
    metric = cfg.optimized_metric or SeedParallelClassifier.best_metric
    optimized = [r["metrics"].get(metric) for r in records]
    return {
        "status": "diverged" if any_diverged else "completed",
        "metrics": mean,
        "params": records[0]["params"],
        "optimized": float("nan")
        if any_diverged or None in optimized
        else _mean([float(v) for v in optimized]),
        "results": str(out_dir / "seed=*" / FILENAME),
        "run": None,
        "wall_s": timing["total_s"],
        "members": members,
    }


def print_summary(result: dict[str, Any]) -> None:
    """One row per member (seed, status, test/acc, best val/acc and its step), then the
    parameter counts of one member, the job's wall time and where the records are."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, padding=(0, 2))
    for col in ("seed", "status", "test/acc", "val/acc (best)", "at step"):
        table.add_column(col, no_wrap=True, justify="left" if col == "status" else "right")
    for m in result["members"]:
        x = m["metrics"]
        table.add_row(
            str(m["seed"]),
            m["status"],
            f"{x.get('test/acc', float('nan')):.4f}",
            f"{x.get('val/acc_best', float('nan')):.4f}",
            str(x.get("val/acc_best_step")),
        )
    console = Console()
    console.print(table)
    p = result["params"]
    steps = max((m["metrics"].get("steps", 0) for m in result["members"]), default=0)
    console.print(
        f"params per member  {p['params/total']:,} total, {p['params/bias']:,} in "
        f"biases, {p['params/norm']:,} in norms"
    )
    console.print(
        f"wall time          {result['wall_s']:.1f} s for {len(result['members'])} "
        f"members ({steps} steps each)"
    )
    console.print(f"results            {result['results']}")
