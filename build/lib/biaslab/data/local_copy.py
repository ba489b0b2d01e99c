"""An image dataset read from a copy already on this machine: the four idx files of MNIST's
format in one folder, each gzipped or not, checked against the MD5 of its decompressed content.

Debian's package ``dataset-fashion-mnist`` installs Fashion-MNIST in
``/usr/share/datasets/fashion-mnist/``. Its .gz files were recompressed, so their checksums are
not the ones torchvision checks (torchvision rejects them as corrupt); the decompressed contents
are the published dataset, and those are what is checked here. Nothing is parsed before its
checksum matches, so a wrong or truncated file is named, never half-read.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)


class CopyUnreadable(RuntimeError):
    """A file of a local copy that is missing, truncated or not the published one."""


@dataclass(frozen=True)
class IdxFile:
    key: str  # x, y, x_test or y_test
    name: str  # decompressed name; the folder may hold it or <name>.gz
    md5: str  # of the decompressed content
    size: int  # bytes of the decompressed content


FILES: dict[str, tuple[IdxFile, ...]] = {
    "fashion_mnist": (
        IdxFile("x", "train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a", 47_040_016),
        IdxFile("y", "train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9", 60_008),
        IdxFile("x_test", "t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a", 7_840_016),
        IdxFile("y_test", "t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965", 10_008),
    ),
}

# Folders tried, in order, when no source folder is given (operating-system packages).
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "fashion_mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}


def _find(folder: Path, f: IdxFile) -> Path | None:
    for candidate in (folder / f.name, folder / f"{f.name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def system_dir(name: str) -> Path | None:
    """The first system folder holding every file of ``name`` (gzipped or not), else None."""
    for folder in SYSTEM_DIRS.get(name, ()):
        if all(_find(folder, f) for f in FILES[name]):
            return folder
    return None


def _content(path: Path, title: str) -> bytes:
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if path.suffix == ".gz" else data
    except (OSError, EOFError, zlib.error) as e:  # gzip's BadGzipFile is an OSError
        raise CopyUnreadable(
            f"{title}: {path} is truncated or not a gzip file ({type(e).__name__}: {e})"
        ) from e


def _parse(data: bytes) -> np.ndarray:
    """An idx array of unsigned bytes (type 0x08): magic, big-endian sizes, then the values.
    Only called on content whose MD5 matched the published file's."""
    ndim = data[3]
    shape = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_copy(name: str, folder: str | Path, title: str) -> dict[str, torch.Tensor]:
    """``{"x", "y", "x_test", "y_test"}`` from the idx files in ``folder``: images uint8
    (N, 1, H, W), labels int64. Raises :class:`CopyUnreadable` (one line naming the file) for
    a missing folder or file, a truncated gzip stream, or content other than the published."""
    folder = Path(folder)
    if name not in FILES:
        raise CopyUnreadable(f"{title}: no checksums known for a local copy; use the download")
    expected = ", ".join(f"{f.name}(.gz)" for f in FILES[name])
    if not folder.is_dir():
        raise CopyUnreadable(f"{title}: {folder} is not a folder (it should hold {expected})")
    out = {}
    for f in FILES[name]:
        path = _find(folder, f)
        if path is None:
            raise CopyUnreadable(
                f"{title}: {folder} has neither {f.name} nor {f.name}.gz (it should hold "
                f"{expected})"
            )
        data = _content(path, title)
        md5 = hashlib.md5(data).hexdigest()
        if md5 != f.md5:
            what = f"{len(data):,} bytes" + (" (truncated)" if len(data) < f.size else "")
            raise CopyUnreadable(
                f"{title}: {path} is not the published file: its content is {what} with MD5 "
                f"{md5}, expected {f.size:,} bytes with MD5 {f.md5}"
            )
        array = torch.from_numpy(_parse(data).copy())
        out[f.key] = array.unsqueeze(1) if array.dim() == 3 else array.long()
    log.info("%s read from %s (MD5 of every file verified)", title, folder)
    return out
