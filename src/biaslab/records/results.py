"""results.json: one per run, the local source of truth the report reads.

Each record carries ``content_sha256``, the SHA-256 of its own content (the canonical JSON of
every other field), so an edit made after the run shows: :func:`integrity` reads it back.
Records written before digests have none and are read as before.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from biaslab.records.atomic import write_text_atomic

SCHEMA_VERSION = 1
FILENAME = "results.json"
# interrupted: stopped by a signal (biaslab.resume.signals); like failed, not a result
STATUSES = ("completed", "failed", "diverged", "interrupted")
DIGEST = "content_sha256"
# what integrity() finds: a digest that matches, none (written before digests), or a mismatch
SEALED, UNSEALED, MODIFIED = "sealed", "recorded before digests", "modified after the run"


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
    record.pop(DIGEST, None)  # a record read back and written again is sealed anew
    record[DIGEST] = content_digest(record)
    text = json.dumps(record, indent=2, sort_keys=False, allow_nan=False) + "\n"
    return write_text_atomic(directory / FILENAME, text)


def content_digest(record: dict[str, Any]) -> str:
    """SHA-256 of the record without its digest, as canonical JSON (sorted keys, no
    whitespace, UTF-8): the same for the record written and the file read back."""
    content = {k: v for k, v in record.items() if k != DIGEST}
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def integrity(record: dict[str, Any]) -> str:
    """:data:`SEALED`, :data:`UNSEALED` (no digest) or :data:`MODIFIED` (changed since written:
    its digest no longer matches; a NaN token, which no writer emits, counts as a change)."""
    if DIGEST not in record:
        return UNSEALED
    try:
        matches = record[DIGEST] == content_digest(record)
    except ValueError:  # NaN or Infinity typed into the file
        return MODIFIED
    return SEALED if matches else MODIFIED


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
