"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The bytes go to a uniquely named temp file in the destination's own folder (so the final
``os.replace`` is a rename on one filesystem, and two writers never share a temp file), are
fsynced, then renamed over the destination. On any error, a full disk included, the temp file
is removed and the destination is left as it was; a full disk raises :class:`DiskFull`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

# no space, or no quota left: to the user, a full disk
FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(OSError):
    """No space left for a file; the partial file is already removed. ``unwritten``: other
    files the run could not write after it (its results.json), for its one line."""

    def __init__(self, path: str | Path):
        super().__init__(errno.ENOSPC, f"no space left on device: {path}")
        self.path = str(path)
        self.unwritten: list[str] = []

    def __str__(self) -> str:
        also = f" (nor room for {', '.join(self.unwritten)})" if self.unwritten else ""
        return f"no space left on device: {self.path}{also}"


def full_disk_error(e: BaseException) -> OSError | None:
    """The no-space :class:`OSError` behind ``e``: ``e`` itself, or one it was raised from or
    during (torch reports a failed write as a RuntimeError raised during the OSError)."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in FULL:
            return e
        e = e.__cause__ or e.__context__
    return None


def is_disk_full(e: BaseException) -> bool:
    return full_disk_error(e) is not None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temp path beside ``path``: write to it inside the block; on a clean exit it is
    fsynced and renamed to ``path`` (made 0644, not mkstemp's 0600)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(path) from None
        raise
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as e:
        if is_disk_full(e) and not isinstance(e, DiskFull):
            raise DiskFull(path) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a temp file, then move it to ``path`` atomically."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_file_atomic(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """As :func:`write_atomic`, ``write`` given the temp file open for binary writing: a
    writer such as ``torch.save`` then fails through Python's own writes, whose no-space
    OSError survives as the context of whatever it raises (a path loses it)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))
