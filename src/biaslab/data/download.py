"""Image datasets turned into uint8 tensors once and cached as ``<data_dir>/<name>-uint8.pt``:
read from a copy on this machine when there is one (:mod:`biaslab.data.local_copy`: a given
source folder, or an operating-system package's), else fetched through torchvision (download
with its built-in checksums).

A dataset that cannot be downloaded or read raises :class:`DataUnavailable`, whose message
is one line: which dataset, the exact path and file name torchvision looks for (so the
archive can be placed by hand on a machine without network), and the offline alternative.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from biaslab.data import local_copy
from biaslab.data.checks import write_cache
from biaslab.data.errors import BadData, DataUnavailable

__all__ = ["DataUnavailable", "SOURCES", "cache_path", "load_uint8"]

log = logging.getLogger(__name__)

OFFLINE_ALTERNATIVE = "data=mnist1d needs no download"


@dataclass(frozen=True)
class Source:
    title: str  # as the dataset's authors write it
    cls: str  # the torchvision.datasets class


SOURCES = {
    "mnist": Source("MNIST", "MNIST"),
    "fashion_mnist": Source("Fashion-MNIST", "FashionMNIST"),
    "cifar10": Source("CIFAR-10", "CIFAR10"),
    "cifar100": Source("CIFAR-100", "CIFAR100"),
}


def _dataset_class(name: str):
    # Imported here: torchvision costs about a second and only these datasets need it.
    import torchvision.datasets

    return getattr(torchvision.datasets, SOURCES[name].cls)


def _layout(cls, root: Path) -> tuple[Path, list[Path], str]:
    """(folder of the unpacked files, those files, where to place the archive by hand)."""
    if hasattr(cls, "base_folder"):  # CIFAR: one tar.gz unpacked into base_folder
        folder = root / cls.base_folder
        names = [n for n, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        where = f"the archive {cls.filename} ({cls.url}) at {root / cls.filename}"
    else:  # MNIST and Fashion-MNIST: four gzipped idx files under <root>/<class name>/raw
        folder = root / cls.__name__ / "raw"
        names = [n.removesuffix(".gz") for n, _ in cls.resources]
        gz = ", ".join(n for n, _ in cls.resources)
        where = f"the files {gz} (from {cls.mirrors[0]}) in {folder}/"
    return folder, [folder / n for n in names], where


def _one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(e).__name__}: {e}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _from_torchvision(name: str, root: Path) -> dict[str, torch.Tensor]:
    cls = _dataset_class(name)
    title = SOURCES[name].title
    folder, files, where = _layout(cls, root)
    present = all(f.is_file() for f in files)
    try:
        splits = [cls(str(root), train=train, download=True) for train in (True, False)]
    except Exception as e:
        if present:
            raise DataUnavailable(
                f"{title}: the files in {folder} are corrupted or incomplete ({_one_line(e)}). "
                f"Delete {folder} so that the next run downloads them again, or place {where} "
                f"(checked and unpacked on the next run); {OFFLINE_ALTERNATIVE}."
            ) from e
        raise DataUnavailable(
            f"{title} is not in {root} and could not be downloaded ({_one_line(e)}). "
            f"Without network, place {where} (checked and unpacked on the next run); "
            f"{OFFLINE_ALTERNATIVE}."
        ) from e
    out = {}
    for (x_key, y_key), ds in zip((("x", "y"), ("x_test", "y_test")), splits, strict=True):
        x = torch.as_tensor(np.asarray(ds.data))
        # MNIST stores (N, H, W); CIFAR (N, H, W, C): both become (N, C, H, W)
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
        out[x_key] = x.contiguous()
        out[y_key] = torch.as_tensor(np.asarray(ds.targets), dtype=torch.long)
    return out


def cache_path(name: str, data_dir: str | Path) -> Path:
    return Path(data_dir) / f"{name}-uint8.pt"


def _from_copy(name: str, folder: Path, given: bool) -> dict[str, torch.Tensor]:
    title = SOURCES[name].title
    try:
        return local_copy.read_copy(name, folder, title)
    except local_copy.CopyUnreadable as e:
        fix = (
            "Replace the file, or point data.source_dir at a good copy"
            if given
            else f"Reinstall the package that installed {folder}, or set data.source_dir to a "
            "good copy"
        )
        raise DataUnavailable(f"{e}. {fix}; {OFFLINE_ALTERNATIVE}.") from e


def load_uint8(
    name: str,
    data_dir: str | Path,
    source_dir: str | Path | None = None,
    check: Callable[[dict], str | None] = lambda d: None,
) -> dict[str, torch.Tensor]:
    """``{"x", "y", "x_test", "y_test"}``: images uint8 (N, C, H, W), labels int64.
    ``check(data)``: why the data is not the dataset (None: it is); a cache that fails it is
    rebuilt, data read afresh that fails it is :class:`BadData`.

    Read from the cache when it is there; otherwise from ``source_dir`` when given, else from
    a system copy (:data:`biaslab.data.local_copy.SYSTEM_DIRS`) when there is one, else
    through torchvision (downloading into ``data_dir`` on first use); then cached. The raw
    files are not opened again once cached.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown image dataset {name!r}: expected one of {sorted(SOURCES)}")
    root = Path(data_dir).resolve()
    path = cache_path(name, root)
    if path.is_file():
        try:
            data = torch.load(path, weights_only=True)
            why = check(data) if isinstance(data, dict) else "not a dict of tensors"
        except Exception as e:  # a cache cut short (e.g. a full disk) is rebuilt, not fatal
            why = f"unreadable: {_one_line(e)}"
        if why is None:
            return data
        log.warning("rebuilding the cache %s (%s)", path, why)
    if source_dir is not None:
        data = _from_copy(name, Path(source_dir).resolve(), given=True)
    elif (system := local_copy.system_dir(name)) is not None:
        data = _from_copy(name, system, given=False)
    else:
        data = _from_torchvision(name, root)
    why = check(data)
    if why is not None:
        raise BadData(f"{SOURCES[name].title} as read is not the dataset: {why}")
    # atomic: parallel jobs never read a half-written cache
    write_cache(path, lambda f: torch.save(data, f), data_dir)
    return data
