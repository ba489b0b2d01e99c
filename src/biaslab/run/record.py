"""The record of one run (or one member of a packed job) that becomes its results.json:
provenance (config, overrides, versions, commit), params, metrics, timing, status and error.

A record starts as ``failed`` and becomes ``completed`` or ``diverged`` only when that is what
happened, so whatever stops a run, the file written in the end does not claim more than ran.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from biaslab.records.atomic import DiskFull, is_disk_full
from biaslab.records.results import FILENAME, write_results
from biaslab.resume import fingerprint
from biaslab.run import tracking

log = logging.getLogger(__name__)

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


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
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


def job_overrides() -> list[str]:
    if not HydraConfig.initialized():
        return []
    # as typed: an override like model.width=${nope} must be recorded, not resolved
    return list(OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False))


def resolved(cfg: DictConfig) -> Any:
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # a broken interpolation is itself the error to record
        return OmegaConf.to_container(cfg, resolve=False)


def error_record(e: BaseException) -> dict[str, str]:
    return {
        "type": type(e).__name__,
        "message": str(e),
        "traceback": traceback.format_exc(limit=20),
    }


class RunRecord:
    """One run's results.json in the making. ``provenance``: versions and commit, shared by
    the members of a job (read once); ``extra``: more top-level fields (``seed_parallel``)."""

    def __init__(
        self,
        cfg: DictConfig,
        overrides: list[str],
        provenance: dict[str, Any] | None = None,
        **extra: Any,
    ):
        config = resolved(cfg)
        secrets = tracking.secrets_in(config)
        provenance = provenance or {"versions": versions(), "git_commit": git_commit()}
        self.data: dict[str, Any] = {
            "status": "failed",
            "seed": config.get("seed"),  # as given, if it does not resolve
            "overrides": tracking.redact(overrides, secrets),
            "config": tracking.redact(config, secrets),
            # what a resume or rerun compares (biaslab.resume.fingerprint); from the
            # unredacted config
            fingerprint.KEY: fingerprint.of(config)["digest"] if isinstance(config, dict) else None,
            **provenance,
            **extra,
            "metrics": {},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RunRecord:
        """A record already written (a results.json read back)."""
        record = cls.__new__(cls)
        record.data = data
        return record

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.data["metrics"]

    def update(self, **fields: Any) -> None:
        self.data.update(fields)

    def fail(self, e: BaseException) -> None:
        self.data["status"] = "failed"
        self.data["error"] = error_record(e)

    def interrupt(self, interruption: dict[str, Any]) -> None:
        """Stopped by a signal (:class:`biaslab.resume.signals.Interrupted`): not a result."""
        self.data["status"] = "interrupted"
        self.data["interrupted"] = interruption
        self.data.pop("error", None)

    def write(self, directory: str | Path, timing: dict[str, float]) -> Path:
        """Write results.json with ``timing`` (seconds: ``fit_s``, ``test_s``, ``total_s``;
        a packed job's members share the job's)."""
        self.data["timing"] = dict(timing)
        return write_results(directory, self.data)


def close_and_write(records, members, loggers, timing, raising, write: bool) -> Exception | None:
    """Close each member's logger, then write its record. A logger that cannot close (W&B's
    offline files on a full disk) fails the record, which is written as failed; returned is
    the first such error, for the caller to raise once every record is written."""
    first = None
    for r, m, lg in zip(records, members, loggers, strict=True):
        r.data["timing"] = dict(timing)
        lost = None
        try:
            tracking.finish(lg, {**r.data.get("params", {}), **r.metrics}, r.status)
        except Exception as e:
            lost = DiskFull(r.data.get("run") or m.out_dir) if is_disk_full(e) else e
            if raising is None and isinstance(lost, DiskFull):  # its W&B copy is lost
                r.fail(lost)
        if write:
            _write(r, m.out_dir, timing, raising or lost)
        first = first or lost
    return first


def _write(record: RunRecord, out_dir: Path, timing: dict[str, float], raising) -> None:
    """Write the record; a full disk while another error is on its way is left to that
    error's one line (the partial file is removed either way)."""
    try:
        record.write(out_dir, timing)
    except OSError as e:
        if not is_disk_full(e):
            raise
        if raising is None:
            raise DiskFull(out_dir / FILENAME) from None
        if isinstance(raising, DiskFull):  # said in its one line
            raising.unwritten.append(str(out_dir / FILENAME))
        else:
            log.error("could not write %s: %s", out_dir / FILENAME, DiskFull(out_dir / FILENAME))
