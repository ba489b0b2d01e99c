"""MNIST-1D (Greydanus & Kobak, ICML 2024), generated locally by the ``mnist1d`` package and
cached under ``data_dir``; nothing is downloaded."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch

from biaslab.atomic import write_atomic
from biaslab.data.base import TensorDataModule
from biaslab.schema import (
    Flag,
    Fraction,
    Interval,
    NonNegative,
    NonNegativeInt,
    PositiveInt,
    int_at_least,
)

log = logging.getLogger(__name__)
NumSamples = int_at_least(20)  # the generator's splits need a few examples of each
KEYS = ("x", "y", "x_test", "y_test")


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(f, **arrays)


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None (with one warning line) when the file is unreadable or
    incomplete: a cut-short or corrupted cache is regenerated, never fatal."""
    try:
        with np.load(path) as f:
            d = {k: f[k] for k in KEYS}
    except Exception as e:
        log.warning("regenerating the unreadable MNIST-1D cache %s (%s)", path, type(e).__name__)
        return None
    return d


class MNIST1D(TensorDataModule):
    """40-point 1-D digits, 10 classes, shaped (N, 1, 40). The generator arguments are those of
    ``mnist1d.data.get_dataset_args``; its ``seed`` is ``data.seed``, which also draws the
    validation split: fixed across runs, so every run sees the same dataset and test set."""

    num_classes = 10

    def __init__(
        self,
        num_samples: NumSamples = 5000,
        train_split: Fraction = 0.8,
        template_len: PositiveInt = 12,
        padding: Interval = (36, 60),
        scale_coeff: NonNegative = 0.4,
        max_translation: NonNegativeInt = 48,
        corr_noise_scale: NonNegative = 0.25,
        iid_noise_scale: NonNegative = 2e-2,
        shear_scale: NonNegative = 0.75,
        shuffle_seq: Flag = False,
        final_seq_length: PositiveInt = 40,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.args = {
            "num_samples": int(num_samples),
            "train_split": float(train_split),
            "template_len": int(template_len),
            "padding": [int(p) for p in padding],
            "scale_coeff": float(scale_coeff),
            "max_translation": int(max_translation),
            "corr_noise_scale": float(corr_noise_scale),
            "iid_noise_scale": float(iid_noise_scale),
            "shear_scale": float(shear_scale),
            "shuffle_seq": bool(shuffle_seq),
            "final_seq_length": int(final_seq_length),
            "seed": int(self.seed),
        }

    @property
    def cache_path(self) -> Path:
        key = hashlib.sha1(json.dumps(self.args, sort_keys=True).encode()).hexdigest()[:12]
        return Path(self.data_dir) / "mnist1d" / f"mnist1d-{key}.npz"

    def _generate(self) -> dict[str, np.ndarray]:
        # Imported here: the package pulls in matplotlib.pyplot (~1 s), needed only once.
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        for k, v in self.args.items():
            setattr(args, k, v)
        # make_dataset reseeds NumPy's and Python's global RNGs: keep the caller's streams.
        import random

        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            d = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        return {k: d[k] for k in ("x", "y", "x_test", "y_test")}

    def load(self):
        path = self.cache_path
        d = _read_cache(path) if path.exists() else None
        if d is None:
            d = self._generate()
            write_atomic(path, lambda tmp: _save_npz(tmp, d))
        x, x_test = (
            torch.as_tensor(d[k], dtype=torch.float32).unsqueeze(1) for k in ("x", "x_test")
        )
        y, y_test = (torch.as_tensor(d[k], dtype=torch.long) for k in ("y", "y_test"))
        return x, y, x_test, y_test
