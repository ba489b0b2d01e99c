"""Runs in: results.json files under the given paths, or W&B runs, as flat :class:`Run` records."""

from __future__ import annotations

import glob
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biaslab.records import moved
from biaslab.records.results import (
    DIGEST,
    FILENAME,
    MODIFIED,
    find_results,
    integrity,
    read_results,
)
from biaslab.records.secrets import redact_override

WANDB_STATUS = {
    "finished": "completed",
    "crashed": "failed",
    "failed": "failed",
    "killed": "failed",
}


@dataclass
class Run:
    """One run, from a results.json or a W&B run; ``config`` is flattened to dotted keys."""

    source: str
    status: str
    seed: Any
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # where it ran: versions, git commit, device, wall time (results.json only)
    provenance: dict[str, Any] = field(default_factory=dict)
    # the sweep it belongs to: its multirun.yaml folder, else its task_name
    sweep: str = ""
    # the data's task kind and number of classes, as the run recorded them
    data: dict[str, Any] = field(default_factory=dict)
    # a results.json's edit evidence (biaslab.records.results.integrity); "" for W&B runs
    integrity: str = ""


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def from_record(record: dict[str, Any], source: str) -> Run:
    config = moved.targets(flatten(record.get("config") or {}))
    error = record.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    stop = record.get("interrupted")
    if isinstance(stop, dict):  # stopped by a signal: not a result
        error = f"interrupted by {stop.get('signal')} at step {stop.get('step')}"
    seed = record.get("seed", config.get("seed"))
    # a seed-parallel member records its whole job's time: the job is what took it
    job = (record.get("seed_parallel") or {}).get("job_dir") or source
    provenance = {
        "versions": record.get("versions") or {},
        "git_commit": record.get("git_commit"),
        "device": record.get("device"),
        "job": job,
        "total_s": (record.get("timing") or {}).get("total_s"),
    }
    return Run(
        source,
        record.get("status", "unknown"),
        seed,
        config,
        dict(record.get("metrics") or {}),
        dict(record.get("params") or {}),
        error,
        provenance,
        sweep=f"task_name={config.get('task_name')}",
        data=dict(record.get("data") or {}),
    )


def sweep_of(path: Path, cache: dict[Path, str | None]) -> str | None:
    """The nearest folder above ``path`` that holds a multirun.yaml: the Hydra sweep that
    wrote it (None outside any sweep)."""
    for folder in path.resolve().parents:
        if folder not in cache:
            cache[folder] = str(folder) if (folder / "multirun.yaml").is_file() else None
        if cache[folder] is not None:
            return cache[folder]
    return None


MODIFIED_WHY = (
    f"modified after the run: its {DIGEST} does not match its content (--allow-modified uses it)"
)


def load_files(paths: Iterable[str | Path], allow_modified: bool = False) -> list[Run]:
    """Every results.json under ``paths``; an unreadable file becomes a run that is listed in
    the report rather than a crash that hides every other run. A record edited after its run
    (:func:`biaslab.records.results.integrity`) is listed as ``modified``, none of its content used,
    unless ``allow_modified``."""
    runs, cache = [], {}
    for path in find_results(*paths):
        try:
            record = read_results(path)
            seal = integrity(record)
            if seal == MODIFIED and not allow_modified:
                runs.append(
                    Run(str(path), "modified", None, {}, error=MODIFIED_WHY, integrity=seal)
                )
                continue
            run = from_record(record, str(path))
        # JSONDecodeError is a ValueError; valid JSON of the wrong shape raises the others
        except (OSError, ValueError, TypeError, AttributeError) as e:
            runs.append(Run(str(path), "unreadable", None, {}, error=str(e)))
            continue
        run.integrity = seal
        sweep = sweep_of(Path(path), cache)
        if sweep is not None:
            rel = os.path.relpath(sweep)  # shown relative to where the report ran, if inside
            run.sweep = sweep if rel.startswith("..") else rel
        runs.append(run)
    return runs


def _multirun_files(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        for m in sorted(glob.glob(str(p), recursive=True)):
            if Path(m).name == "multirun.yaml":
                found.append(Path(m))
            else:
                found += sorted(Path(m).rglob("multirun.yaml"))
    return list(dict.fromkeys(found))


def sweep_commands(paths: Iterable[str | Path]) -> list[str]:
    """The command that launched each Hydra sweep found under ``paths`` (its multirun.yaml),
    a secret-looking override's value redacted."""
    from omegaconf import OmegaConf

    commands = []
    for f in _multirun_files(paths):
        task = OmegaConf.select(OmegaConf.load(f), "hydra.overrides.task") or []
        task = [redact_override(str(o)) for o in task]
        commands.append(shlex.join(["python", "train.py", "-m", *task]))
    return list(dict.fromkeys(commands))


def _sweep_size(task: list[str]) -> int | None:
    """How many jobs the basic sweeper makes of these overrides (None: cannot tell)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        n = 1
        for o in OverridesParser.create().parse_overrides(task):
            if o.is_sweep_override():
                n *= len(list(o.sweep_string_iterator()))
        return n
    except Exception:  # a range or glob sweep, or another syntax: no count
        return None


def missing_jobs(paths: Iterable[str | Path]) -> list[tuple[str, int]]:
    """(job folder, jobs the sweep expects) for every job of a basic-sweeper multirun found
    under ``paths`` that has no results.json: killed, or never started."""
    from omegaconf import OmegaConf

    out = []
    for f in _multirun_files(paths):
        hydra = OmegaConf.to_container(OmegaConf.load(f).hydra, resolve=False)
        sweeper = str((hydra.get("sweeper") or {}).get("_target_", ""))
        if not sweeper.endswith("BasicSweeper") or hydra["sweep"]["subdir"] != "${hydra.job.num}":
            continue
        n = _sweep_size([str(o) for o in hydra["overrides"]["task"]])
        for i in range(n or 0):
            job = f.parent / str(i)
            if not job.is_dir() or not any(job.rglob(FILENAME)):
                out.append((str(job), n))
    return out


def from_wandb_run(run: Any) -> Run:
    """A W&B public-API run as a :class:`Run`: run.config is the record's config, run.summary
    holds the metrics and the params/* counts (see biaslab.run.tracking.finish)."""
    config = moved.targets(
        flatten({k: v for k, v in dict(run.config).items() if not str(k).startswith("_")})
    )
    summary = {k: v for k, v in run.summary.items() if not str(k).startswith("_")}
    params = {k: v for k, v in summary.items() if k.startswith("params/")}
    metrics = {k: v for k, v in summary.items() if k not in params}
    status = WANDB_STATUS.get(run.state, run.state)
    error = None if status == "completed" else f"W&B run state: {run.state}"
    source = getattr(run, "url", None) or f"wandb:{'/'.join(getattr(run, 'path', []))}"
    group = getattr(run, "group", None)
    sweep = f"wandb group {group}" if group else f"task_name={config.get('task_name')}"
    return Run(source, status, config.get("seed"), config, metrics, params, error, sweep=sweep)


def load_wandb(path: str, group: str | None = None, api: Any = None) -> list[Run]:
    if api is None:
        import wandb  # only this path needs W&B's client (and a network)

        api = wandb.Api()
    return [from_wandb_run(r) for r in api.runs(path, filters={"group": group} if group else {})]
