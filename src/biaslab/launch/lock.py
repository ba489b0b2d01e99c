"""One writer per run or sweep folder: an exclusive ``flock`` on ``<folder>/.writer.lock``.

The kernel holds the lock for the open file and drops it when the holder exits, however it
exits (SIGKILL included), so a killed run never blocks its own resume and no stale lock
needs cleaning. The holder writes its PID into the file, so a refused run can name it.
``fcntl.flock`` is used directly, not the ``filelock`` package: the refused process must read
the holder's PID from the lock file, which filelock's Unix lock truncates when it opens it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = ".writer.lock"
_held: dict[Path, int] = {}  # folder -> open descriptor, kept open for the process's life


class FolderLocked(Exception):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, pid: str | None):
        self.folder, self.pid = folder, pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{folder} is in use by {holder}")


def hold(folder: str | Path) -> None:
    """Take ``folder``'s lock (creating the folder) until this process exits; raise
    :class:`FolderLocked` if another process holds it, :class:`OSError` if the folder cannot
    be created. Taking it again in the same process is a no-op."""
    folder = Path(os.path.abspath(folder))
    if folder in _held:
        return
    folder.mkdir(parents=True, exist_ok=True)
    # no O_TRUNC: opening must not erase the holder's PID
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        os.close(fd)
        raise FolderLocked(folder, pid) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[folder] = fd


def _holder(fd: int, wait_s: float = 1.0) -> str | None:
    """The PID the holder wrote; it may have the lock an instant before it writes the PID."""
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else None
        time.sleep(0.02)


def release(folder: str | Path) -> None:
    """Drop the lock early (the kernel drops it at exit anyway); the file stays."""
    fd = _held.pop(Path(os.path.abspath(folder)), None)
    if fd is not None:
        os.close(fd)
