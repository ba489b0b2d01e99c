"""Modules that moved to a folder of their own, by the dotted path they had before.

Configs name classes by ``_target_``, and records keep their config: 2,720 published records
name ``biaslab.shift_eval.ShiftEval`` and multirun.yaml files ``biaslab.sweep_summary``. So an
old path keeps working everywhere a record or a config is read:

- it still resolves: ``biaslab.<old>`` is an attribute of the package (``biaslab.__getattr__``),
  which is how Hydra's ``_target_`` lookup and ``get_class`` find a class;
- fingerprints name a class by its old path (:func:`historical`), so a digest recorded before
  the move still matches and a run recorded then resumes;
- the report reads each ``_target_`` as its current path (:func:`current`), so runs recorded
  under either path pool into one group.
"""

from __future__ import annotations

from typing import Any

MOVED = {
    "biaslab.atomic": "biaslab.records.atomic",
    "biaslab.results": "biaslab.records.results",
    "biaslab.secrets": "biaslab.records.secrets",
    "biaslab.record": "biaslab.run.record",
    "biaslab.train": "biaslab.run.train",
    "biaslab.job": "biaslab.run.job",
    "biaslab.outcome": "biaslab.run.outcome",
    "biaslab.summary": "biaslab.run.summary",
    "biaslab.distributed": "biaslab.run.distributed",
    "biaslab.steps_per_call": "biaslab.run.steps_per_call",
    "biaslab.tracking": "biaslab.run.tracking",
    "biaslab.rundir": "biaslab.resume.rundir",
    "biaslab.fingerprint": "biaslab.resume.fingerprint",
    "biaslab.checkpointing": "biaslab.resume.checkpointing",
    "biaslab.signals": "biaslab.resume.signals",
    "biaslab.guards": "biaslab.tasks.guards",
    "biaslab.shift_eval": "biaslab.callbacks.shift_eval",
    "biaslab.sweep_summary": "biaslab.callbacks.sweep_summary",
    "biaslab.task": "biaslab.tasks.base",
    "biaslab.sequence_task": "biaslab.tasks.sequence",
    "biaslab.seed_parallel.task": "biaslab.tasks.packed",
    "biaslab.compose": "biaslab.config.compose",
}
_BACK = {new: old for old, new in MOVED.items()}


def _renamed(path: str, table: dict[str, str]) -> str:
    module, _, name = path.rpartition(".")
    return f"{table[module]}.{name}" if module in table else path


def current(path: str) -> str:
    """A class's dotted path as the package has it now."""
    return _renamed(path, MOVED)


def historical(path: str) -> str:
    """A class's dotted path as records made before the move name it."""
    return _renamed(path, _BACK)


def targets(flat: dict[str, Any], rename=current) -> dict[str, Any]:
    """``flat`` (dotted keys) with every ``_target_`` value renamed by ``rename``."""
    return {
        k: rename(v) if k.rpartition(".")[2] == "_target_" and isinstance(v, str) else v
        for k, v in flat.items()
    }
