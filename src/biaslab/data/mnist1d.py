"""MNIST-1D (Greydanus & Kobak, ICML 2024), generated locally by the ``mnist1d`` package and
cached under ``data_dir``; nothing is downloaded."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from biaslab.data.base import TensorDataModule
from biaslab.data.checks import why_bad, write_cache
from biaslab.data.errors import BadData
from biaslab.schema import (
    Flag,
    Fraction,
    Interval,
    NonNegative,
    NonNegativeInt,
    OptionalPositiveInt,
    OptionalSeed,
    Positive,
    PositiveInt,
    int_at_least,
)

log = logging.getLogger(__name__)
NumSamples = int_at_least(20)  # the generator's splits need a few examples of each
KEYS = ("x", "y", "x_test", "y_test")


def _read_cache(path: Path, check: Callable[[dict], str | None]) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None (with one warning line) when the file is unreadable,
    incomplete or not this dataset (``check``: why not): it is regenerated, never fatal."""
    try:
        with np.load(path) as f:
            d = {k: f[k] for k in KEYS}
        why = check(d)
    except Exception as e:
        why = f"unreadable: {type(e).__name__}"
    if why is not None:
        log.warning("regenerating the MNIST-1D cache %s (%s)", path, why)
        return None
    return d


# data.test_seed=null: the larger test set is drawn with data.seed + this (mod 2**32), a seed
# no run uses for its training data by default
TEST_SEED_OFFSET = 100_003


def _raw(args, seed: int, num_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What ``mnist1d.data.make_dataset`` draws before it standardizes, with the same RNG
    calls in the same order: the examples (shuffled) and labels, NOT position-shuffled, and
    the position permutation it would apply (None without ``shuffle_seq``)."""
    from mnist1d.data import get_templates
    from mnist1d.transform import transform
    from mnist1d.utils import set_seed

    templates = get_templates()
    set_seed(seed)
    xs, ys = [], []
    per_class = num_samples // len(templates["y"])
    for label in range(len(templates["y"])):
        for _ in range(per_class):
            x, _t = transform(templates["x"][label], templates["t"], args)
            xs.append(x)
            ys.append(templates["y"][label])
    order = np.random.permutation(len(ys))
    xs, ys = np.stack(xs)[order], np.stack(ys)[order]
    perm = np.random.permutation(args.final_seq_length) if args.shuffle_seq else None
    return xs, ys, perm


def _larger_test(args, paper: dict, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` test examples drawn by the paper's generator with the same arguments and seed
    ``seed``, put on the paper's scale: shifted and scaled by the mean and SD that
    ``make_dataset`` used for the paper's data (train + test), and position-shuffled by the
    paper's permutation when ``shuffle_seq`` (so the test set matches its training set)."""
    raw, _, perm = _raw(args, args.seed, args.num_samples)
    if perm is not None:
        raw = raw[..., perm]
    mean, std = raw.mean(), raw.std()
    split = int(len(raw) * args.train_split)
    if not np.array_equal(((raw - mean) / std)[:split], paper["x"]):
        raise RuntimeError(
            "mnist1d's generator no longer draws as biaslab.data.mnist1d._raw expects; "
            "the larger test set cannot be put on the paper's scale"
        )
    classes = 10
    x, y, _ = _raw(args, seed, -(-n // classes) * classes)
    if perm is not None:
        x = x[..., perm]
    return ((x - mean) / std)[:n], y[:n]


class MNIST1D(TensorDataModule):
    """40-point 1-D digits, 10 classes, shaped (N, 1, 40); (N, 2, 40) with ``const_channel``.
    The generator arguments are those of ``mnist1d.data.get_dataset_args``; its ``seed`` is
    ``data.seed``, which also draws the validation split: fixed across runs, so every run sees
    the same dataset and test set."""

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
        test_samples: OptionalPositiveInt = None,
        test_seed: OptionalSeed = None,
        scale: Positive = 1.0,
        const_channel: Flag = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.scale = float(scale)  # inputs are x * scale + shift after normalization
        # a second input channel of ones: a constant a bias-free conv can scale into a bias
        self.const_channel = bool(const_channel)
        # a larger test set, drawn apart from the paper's split (see _larger_test)
        self.test_samples = None if test_samples is None else int(test_samples)
        self.test_seed = (
            (int(self.seed) + TEST_SEED_OFFSET) % 2**32 if test_seed is None else int(test_seed)
        )
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
        keyed = dict(self.args)
        if self.test_samples is not None:  # the paper's split keeps its old cache name
            keyed.update(test_samples=self.test_samples, test_seed=self.test_seed)
        key = hashlib.sha1(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]
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
            if self.test_samples is not None:
                d["x_test"], d["y_test"] = _larger_test(args, d, self.test_samples, self.test_seed)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        return {k: d[k] for k in ("x", "y", "x_test", "y_test")}

    def prepare_splits(self):
        """As the base class's, with every input multiplied by ``scale`` after normalization
        and before ``shift`` is added: x * scale + shift. With ``const_channel`` every input
        (N, 1, L) becomes (N, 2, L), channel 1 all ones, added last so it stays exactly 1."""
        if self.splits:
            return self.splits
        splits = self._scaled_splits()
        if self.const_channel:
            splits = {k: (torch.cat([x, torch.ones_like(x)], 1), y) for k, (x, y) in splits.items()}
        self.splits = splits
        return self.splits

    def _scaled_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if self.scale == 1.0:
            return super().prepare_splits()
        shift, self.shift = self.shift, 0.0
        try:
            splits = super().prepare_splits()
        finally:
            self.shift = shift
        return {k: (x * self.scale + shift, y) for k, (x, y) in splits.items()}

    def why_bad(self, d: dict) -> str | None:
        """Why arrays are not this dataset (see :func:`biaslab.data.checks.why_bad`): the
        generator makes ``num_samples // 10`` examples of each class, splits them at
        ``train_split``, and ``test_samples`` replaces the test split when given."""
        total = self.args["num_samples"] // self.num_classes * self.num_classes
        n_train = int(total * self.args["train_split"])
        n_test = total - n_train if self.test_samples is None else self.test_samples
        length = self.args["final_seq_length"]
        shapes = {"x": (n_train, length), "y": (n_train,)}
        shapes |= {"x_test": (n_test, length), "y_test": (n_test,)}
        return why_bad(d, shapes, "f", self.num_classes)

    def load(self):
        path = self.cache_path
        d = _read_cache(path, self.why_bad) if path.exists() else None
        if d is None:
            d = self._generate()
            why = self.why_bad(d)
            if why is not None:
                raise BadData(f"MNIST-1D as generated is not the dataset: {why}")
            # a file object: np.savez would append .npz to a name
            write_cache(path, lambda f: np.savez(f, **d), self.data_dir)
        x, x_test = (
            torch.as_tensor(d[k], dtype=torch.float32).unsqueeze(1) for k in ("x", "x_test")
        )
        y, y_test = (torch.as_tensor(d[k], dtype=torch.long) for k in ("y", "y_test"))
        return x, y, x_test, y_test
