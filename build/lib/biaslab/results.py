"""results.json: one per run, the local source of truth the report reads."""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path
from typing import Any

from biaslab.atomic import write_text_atomic

SCHEMA_VERSION = 1
FILENAME = "results.json"
# interrupted: stopped by a signal (biaslab.signals); like failed, not a result
STATUSES = ("completed", "failed", "diverged", "interrupted")


def _strict(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no such numbers, and Python's
    ``NaN``/``Infinity`` tokens break other readers (jq, JavaScript)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def write_results(directory: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``directory/results.json`` atomically (temp file + rename), so a
    reader never sees half a file even if the run is killed mid-write."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = {"schema_version": SCHEMA_VERSION, **record}
    if record.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {record.get('status')!r}")
    record = _strict(json.loads(json.dumps(record, default=str)))
    text = json.dumps(record, indent=2, sort_keys=False, allow_nan=False) + "\n"
    return write_text_atomic(directory / FILENAME, text)


def read_results(path: str | Path) -> dict[str, Any]:
    """Read one results.json (a file or the directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    record = json.loads(path.read_text())
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a results.json record (a JSON {type(record).__name__})")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {version!r}, this biaslab reads {SCHEMA_VERSION}")
    return record


def find_results(*paths: str | Path) -> list[Path]:
    """Every results.json under the given files, directories or glob patterns, sorted."""
    found: set[Path] = set()
    for p in paths:
        matches = [Path(m) for m in glob.glob(str(p), recursive=True)] or [Path(p)]
        for m in matches:
            if m.is_file() and m.name == FILENAME:
                found.add(m)
            elif m.is_dir():
                found.update(m.rglob(FILENAME))
    return sorted(found)
