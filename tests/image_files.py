"""Tiny image datasets in the official on-disk formats that torchvision reads, so the real
loading code runs without network: CIFAR-10/100 python pickles, MNIST idx files."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_TRAIN_BATCHES = 5


def _images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    # random pixels: every image is distinct, so splits can be compared image by image
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def write_cifar10(root: Path, per_batch: int = 20, n_test: int = 20, seed: int = 0) -> dict:
    """``root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``. Returns the
    images (N, 3, 32, 32) and labels written, for comparison."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    written = {"x": [], "y": []}
    for b in range(1, CIFAR10_TRAIN_BATCHES + 1):
        x = _images(rng, per_batch, (3, 32, 32))
        y = [int(v) for v in rng.integers(0, 10, per_batch)]
        _pickle(folder / f"data_batch_{b}", {"data": x.reshape(per_batch, -1), "labels": y})
        written["x"].append(x)
        written["y"] += y
    x_test = _images(rng, n_test, (3, 32, 32))
    y_test = [int(v) for v in rng.integers(0, 10, n_test)]
    _pickle(folder / "test_batch", {"data": x_test.reshape(n_test, -1), "labels": y_test})
    _pickle(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)]})
    return {"x": np.concatenate(written["x"]), "y": written["y"], "x_test": x_test}


def write_cifar100(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> None:
    """``root/cifar-100-python/{train, test, meta}`` with fine (100) and coarse (20) labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        fine = [int(v) for v in rng.integers(0, 100, n)]
        x = _images(rng, n, (3, 32, 32)).reshape(n, -1)
        _pickle(
            folder / name, {"data": x, "fine_labels": fine, "coarse_labels": [f // 5 for f in fine]}
        )
    _pickle(
        folder / "meta",
        {
            "fine_label_names": [f"fine{i}" for i in range(100)],
            "coarse_label_names": [f"coarse{i}" for i in range(20)],
        },
    )


def _idx(path: Path, array: np.ndarray) -> None:
    """The idx format: magic (0, 0, type 0x08 = ubyte, number of dims), big-endian sizes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, cls: str = "MNIST", n_train: int = 60, n_test: int = 20) -> None:
    """``root/<cls>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``: unpacked, as torchvision
    leaves them after extracting its .gz downloads (it checks for these names)."""
    rng = np.random.default_rng(1)
    raw = root / cls / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        _idx(raw / f"{split}-images-idx3-ubyte", _images(rng, n, (28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))


def write_idx_folder(
    folder: Path,
    n_train: int = 60,
    n_test: int = 20,
    gz: bool = True,
    seed: int = 2,
    background: float = 0.0,
) -> dict:
    """The four Fashion-MNIST idx files in one folder, as Debian's package lays them out
    (gzipped; ``gz=False``: decompressed). Returns the arrays written and, under ``"files"``,
    the :class:`~biaslab.data.local_copy.IdxFile` entries (MD5 and size of each content)
    that make them the expected copy. ``background``: about that fraction of the pixels is
    black (0), as the clothes' surroundings are."""
    import gzip
    import hashlib

    from biaslab.data.local_copy import IdxFile

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x": _images(rng, n_train, (28, 28)),
        "y": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": _images(rng, n_test, (28, 28)),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    if background:  # drawn only then: the default images stay those written before
        for key in ("x", "x_test"):
            arrays[key][rng.random(arrays[key].shape) < background] = 0
    names = {
        "x": "train-images-idx3-ubyte",
        "y": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    files = []
    for key, name in names.items():
        _idx(folder / name, arrays[key])
        content = (folder / name).read_bytes()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
            (folder / name).unlink()
        files.append(IdxFile(key, name, hashlib.md5(content).hexdigest(), len(content)))
    return {**arrays, "files": tuple(files)}
