"""What a run's folder already holds, and whether this run may use it: checked before anything
in the folder is written, so a finished record or a checkpoint is never silently replaced.

- A folder holding a finished run (results.json ``completed`` or ``diverged``) or a
  checkpoint is refused unless ``resume=true`` (continue it) or ``overwrite=true`` (replace).
- ``resume=true`` needs the folder's run to have this config (see
  :mod:`biaslab.resume.fingerprint`): a checkpoint or record of another config is refused,
  naming the keys that differ.
- ``resume=true`` on a finished run of this config has nothing to do: its records are
  returned, unchanged.
- ``resume=true`` on a folder whose record was edited after its run (its ``content_sha256``
  does not match, see :func:`biaslab.records.results.integrity`) is refused: neither continued nor
  returned as finished.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.config import ConfigError, config_error
from biaslab.config.optimization import resolve_steps_per_call, steps_per_call_blocked
from biaslab.records.added import ADDED_AT
from biaslab.records.results import FILENAME, MODIFIED, integrity
from biaslab.resume import fingerprint
from biaslab.seed_parallel import parallel_seeds
from biaslab.seed_parallel.members import members as plan_members

FINISHED = ("completed", "diverged")
CHECKPOINT = Path("checkpoints") / "last.ckpt"


class FolderInUse(ConfigError):
    """The run's folder holds a run this one may not replace or continue."""

    def __init__(self, key: str, value: Any, message: str):
        self.key, self.value, self.allowed = key, value, message
        ValueError.__init__(self, message)


def _folder_key() -> str:
    """The key that chose the folder, as the user would change it."""
    if not HydraConfig.initialized():
        return "paths.output_dir"
    return "hydra.sweep.dir" if HydraConfig.get().mode == RunMode.MULTIRUN else "hydra.run.dir"


def _record(folder: Path) -> dict[str, Any] | None:
    import json

    try:
        record = json.loads((folder / FILENAME).read_text())
    except (OSError, ValueError):
        return None  # none, or unreadable: nothing a rerun could lose
    return record if isinstance(record, dict) else None


def _show(v: Any) -> str:
    return "absent" if not isinstance(v, (str, int, float, bool, list, type(None))) else str(v)


def _mismatch(where: str, diffs: list[tuple[str, Any, Any]]) -> str:
    shown = "; ".join(f"{k}: {_show(a)} there, {_show(b)} here" for k, a, b in diffs[:6])
    more = f"; and {len(diffs) - 6} more" if len(diffs) > 6 else ""
    return (
        f"resume=true is not allowed: expected the config of the run in {where} "
        f"(it differs in {shown}{more}): resume with that run's overrides, or start a new "
        "run in another folder"
    )


def _refuse_modified(members: Sequence[Any], records: list[dict[str, Any] | None]) -> None:
    for m, r in zip(members, records, strict=True):
        if r is not None and integrity(r) == MODIFIED:
            path = Path(m.out_dir) / FILENAME
            raise FolderInUse(
                "resume",
                True,
                f"resume=true is not allowed: {path} was modified after the run (its "
                "content_sha256 does not match its content): restore it, or start a new run "
                "in another folder (overwrite=true replaces it)",
            )


def _occupied(key: str, job_dir: Path, finished: list[dict[str, Any]], ckpt: bool) -> FolderInUse:
    """The refusal of a run into a folder that holds a finished run or a checkpoint."""
    held = sorted({r["status"] for r in finished})
    parts = [f"a {' and '.join(held)} run ({FILENAME})"] if held else []
    if ckpt:
        parts.append(f"a checkpoint ({CHECKPOINT})")
    return FolderInUse(
        key,
        job_dir,
        f"{job_dir} already holds {' and '.join(parts)}: continue it with resume=true, "
        f"choose another {key}, or replace it with overwrite=true",
    )


def check(
    cfg: DictConfig,
    members: Sequence[Any],
    invalid: Exception | None | Callable[[], Exception | None],
) -> list[dict[str, Any]] | None:
    """Raise :class:`FolderInUse` (or ``invalid``, the config's own error from
    :func:`biaslab.config.config_error`, or a function that works it out only when the folder
    holds something to protect) if this run may not use its folder; return the finished
    records when ``resume=true`` has nothing to do; else None: train."""
    job_dir = Path(cfg.paths.output_dir)
    ckpt = job_dir / CHECKPOINT
    records = [_record(Path(m.out_dir)) for m in members]
    if cfg.get("resume") and not cfg.get("overwrite"):
        _refuse_modified(members, records)
    finished = [r for r in records if r and r.get("status") in FINISHED]
    if not finished and not ckpt.exists():
        return None  # nothing to lose: train (the config is validated as usual)
    error = invalid() if callable(invalid) else invalid
    if error is not None:  # a bad value is refused before the folder's records are touched
        raise error
    key = _folder_key()
    if cfg.get("overwrite"):
        return None
    if not cfg.resume:
        raise _occupied(key, job_dir, finished, ckpt.exists())
    if ckpt.exists():
        saved = fingerprint.in_checkpoint(ckpt)
        if saved is None:
            raise FolderInUse(
                "resume",
                True,
                f"resume=true is not allowed: {ckpt} has no config fingerprint (written "
                "by an older biaslab), so it cannot be shown to be this run; start a new run "
                "in another folder",
            )
        saved_values, current = saved["values"], fingerprint.values(cfg)
        if len(finished) == len(members):  # nothing will be continued from it
            saved_values = fingerprint.result_values(saved_values)
            current = fingerprint.result_values(current)
        diffs = fingerprint.differences(saved_values, current)
        if diffs:
            raise FolderInUse("resume", True, _mismatch(str(ckpt), diffs))
    for m, r in zip(members, records, strict=True):
        if r is None or r.get("status") not in (*FINISHED, "interrupted"):
            continue
        saved, current = fingerprint.values(r.get("config") or {}), fingerprint.values(m.cfg)
        if r.get("status") in FINISHED:  # nothing left to continue: what it ran is what counts
            saved, current = fingerprint.result_values(saved), fingerprint.result_values(current)
        diffs = fingerprint.differences(saved, current)
        if diffs:
            raise FolderInUse("resume", True, _mismatch(str(Path(m.out_dir) / FILENAME), diffs))
    if len(finished) == len(members):
        return finished
    return None


def resolve_k(cfg: DictConfig) -> None:
    """``train.steps_per_call=auto`` as :func:`resolve_steps_per_call` does, except where
    ``resume=true`` continues a checkpoint: there at the K it was saved with (1 for one saved
    before the key existed), since a trainer of another K counts the saved loop differently.
    An explicit K stays as typed: one that differs from the checkpoint's is refused."""
    key = "train.steps_per_call"
    auto = OmegaConf.select(cfg, key, throw_on_resolution_failure=False) == "auto"
    ckpt = Path(cfg.paths.output_dir) / CHECKPOINT
    if auto and cfg.get("resume") and not cfg.get("overwrite") and ckpt.exists():
        saved = fingerprint.in_checkpoint(ckpt)
        k = saved["values"].get(key, ADDED_AT[key]) if saved is not None else None
        # a K this config cannot run (another max_steps, ...) is left to the fingerprint
        # check, which names every key that differs
        if isinstance(k, int) and (k == 1 or steps_per_call_blocked(cfg, k) is None):
            with open_dict(cfg):
                OmegaConf.update(cfg, key, k)
    resolve_steps_per_call(cfg)


def check_job(cfg: DictConfig) -> list[dict[str, Any]] | None:
    """:func:`check` for a job's config as :func:`biaslab.run.train.train` sees it: the folder's
    run recorded the ``train.steps_per_call`` it ran, and a packed job's seeds each have a
    record of their own. For the launch, before Hydra writes into the folder."""
    resolve_k(cfg)
    # the run validates its config itself: here only where the folder holds records
    return check(cfg, plan_members(cfg, parallel_seeds(cfg), []), lambda: config_error(cfg))


def job_config(config: DictConfig, output_dir: str) -> DictConfig:
    """The job config of a composed Hydra config (``hydra`` node included) writing to
    ``output_dir``, before Hydra has made that folder. Sets HydraConfig as the job will."""
    config = copy.deepcopy(config)
    with open_dict(config):
        config.hydra.runtime.output_dir = os.path.abspath(output_dir)
    HydraConfig.instance().set_config(config)  # run_job sets it again, the same way
    job = copy.deepcopy(config)
    with open_dict(job):
        job.paths.output_dir = config.hydra.runtime.output_dir
        del job.hydra
    return job
