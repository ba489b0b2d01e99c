"""What a dataset cache must hold to be used, and writing one where the data folder allows.

A cache is the four arrays ``x``, ``y``, ``x_test``, ``y_test`` of the shapes and dtypes its
data module expects, labels in ``0 .. classes - 1``, every input finite. A cache that loads
but fails (labels shifted, a split cut short, a NaN) is rebuilt like an unreadable one; data
that fails once rebuilt is :class:`~biaslab.data.errors.BadData` (one line), never a run that
trains on it.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from biaslab.data.errors import DataUnavailable
from biaslab.records.atomic import write_file_atomic

KEYS = ("x", "y", "x_test", "y_test")
# a folder a cache cannot be written in: read-only, or not ours
UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(map(str, a.shape)) + ")"


def why_bad(
    arrays: Mapping[str, Any],
    shapes: Mapping[str, tuple[int | None, ...]],
    x_kind: str,
    classes: int,
) -> str | None:
    """Why ``arrays`` are not the dataset (None: they are). ``shapes``: per key, every
    dimension (None: any length); ``x_kind``: the inputs' numpy dtype kind (``f`` float,
    ``u`` unsigned); labels are integers in ``0 .. classes - 1``."""
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        return f"no {', '.join(missing)}"
    a = {k: np.asarray(arrays[k]) for k in KEYS}
    for k in KEYS:
        want = shapes[k]
        if a[k].ndim != len(want) or any(
            w not in (None, n) for w, n in zip(want, a[k].shape, strict=True)
        ):
            shown = ", ".join("N" if w is None else str(w) for w in want)
            return f"{k} has shape {_shape(a[k])}, expected ({shown})"
        kind = "i" if k.startswith("y") else x_kind
        if a[k].dtype.kind != kind or len(a[k]) == 0:
            return f"{k} holds {len(a[k])} values of dtype {a[k].dtype}, expected dtype kind {kind}"
    for x, y in (("x", "y"), ("x_test", "y_test")):
        if len(a[x]) != len(a[y]):
            return f"{x} holds {len(a[x])} examples but {y} {len(a[y])} labels"
        lo, hi = int(a[y].min()), int(a[y].max())
        if lo < 0 or hi >= classes:
            return f"{y} holds labels {lo} to {hi}, expected 0 to {classes - 1}"
        if x_kind == "f" and not np.isfinite(a[x]).all():
            return f"{x} holds {int((~np.isfinite(a[x])).sum())} non-finite values"
    return None


def write_cache(path: Path, write: Callable[[BinaryIO], object], data_dir: str | Path) -> None:
    """Write a cache atomically; a data folder that cannot take it is :class:`DataUnavailable`
    naming the folder and ``paths.data_dir`` (a full disk stays a DiskFull)."""
    try:
        write_file_atomic(path, write)
    except OSError as e:
        if e.errno not in UNWRITABLE:
            raise
        raise DataUnavailable(
            f"paths.data_dir={data_dir} is not allowed: expected a writable folder (the "
            f"dataset cache {path} cannot be written there: {e.strerror}); set paths.data_dir "
            "to one"
        ) from None
