"""Long-dependency problems of Arjovsky, Shah & Bengio ("Unitary Evolution RNNs", ICML 2016),
generated in memory from a seed: the adding problem and the copy problem.

Train, validation and test are drawn from disjoint seeds (``seed*3 + 0/1/2``) with their own
``torch.Generator``, so each split is fixed by ``data.seed`` alone and no example is shared by
construction of the streams. Inputs are not normalized (the markers and one-hot codes mean
something as they are).
"""

from __future__ import annotations

import math

import torch

from biaslab.data.base import DataSpec, TensorDataModule
from biaslab.schema import PositiveInt, Seed, int_at_least

Length = int_at_least(2)  # one marker in each half

SPLITS = ("train", "val", "test")

# copy problem alphabet: 0 = blank, 1..8 = symbols, 9 = delimiter (input only)
BLANK, DELIMITER, SYMBOLS, RECALL = 0, 9, 8, 10


def adding_problem(n: int, length: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, T, 2) = (value ~ U[0, 1], marker); one marker in each half; y (n,) = marked sum."""
    values = torch.rand(n, length, generator=g)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, length, (n,), generator=g)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), y


def copy_problem(n: int, length: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, T+20, 10) one-hot: 10 symbols from 8, T-1 blanks, a delimiter, 10 blanks.
    y (n, T+20) class indices (0 = blank, 1..8 = symbols): T+10 blanks, then the 10 symbols."""
    total = length + 2 * RECALL
    symbols = torch.randint(1, SYMBOLS + 1, (n, RECALL), generator=g)
    codes = torch.full((n, total), BLANK, dtype=torch.long)
    codes[:, :RECALL] = symbols
    codes[:, length + RECALL - 1] = DELIMITER
    y = torch.full((n, total), BLANK, dtype=torch.long)
    y[:, -RECALL:] = symbols
    x = torch.nn.functional.one_hot(codes, SYMBOLS + 2).float()
    return x, y


class SequenceProblem(TensorDataModule):
    """Base for generated sequence problems: ``num_train``/``num_val``/``num_test`` examples of
    length ``length``; reuses :class:`TensorDataModule`'s device-resident batching."""

    task = "classification"
    generate = staticmethod(adding_problem)

    def __init__(
        self,
        length: Length = 100,
        num_train: PositiveInt = 20_000,
        num_val: PositiveInt = 1_000,
        num_test: PositiveInt = 1_000,
        batch_size: PositiveInt = 50,
        seed: Seed = 0,
        shuffle_seed: Seed = 0,
    ):
        super().__init__(
            batch_size=batch_size, normalize=False, seed=seed, shuffle_seed=shuffle_seed
        )
        self.length = int(length)
        self.sizes = {"train": int(num_train), "val": int(num_val), "test": int(num_test)}

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 3 + SPLITS.index(name))
        return self.generate(self.sizes[name], self.length, g)

    def load(self):
        return (*self.split("train"), *self.split("test"))

    def prepare_splits(self):
        # validation has its own seed instead of being carved from train; no normalization
        if not self.splits:
            self.splits = {name: self.split(name) for name in SPLITS}
        return self.splits

    @property
    def baseline(self) -> float:
        raise NotImplementedError

    @property
    def spec(self) -> DataSpec:
        x = self.prepare_splits()["train"][0]
        return DataSpec(tuple(x.shape[1:]), self.num_classes, self.task, self.baseline)


class Adding(SequenceProblem):
    """The adding problem. Predicting 1 always gives MSE 1/6 (Var of U[0,1] + U[0,1])."""

    num_classes = 1  # one regression output
    task = "regression"
    generate = staticmethod(adding_problem)

    @property
    def baseline(self) -> float:
        return 1.0 / 6.0


class Copy(SequenceProblem):
    """The copy problem. A memoryless predictor (blank until the delimiter, then uniform over
    the 8 symbols) has cross-entropy 10·ln(8)/(T+20) per step."""

    num_classes = SYMBOLS + 1  # blank + 8 symbols (the delimiter is never a target)
    task = "sequence"
    generate = staticmethod(copy_problem)

    def __init__(self, num_train: PositiveInt = 10_000, **kwargs):
        super().__init__(num_train=num_train, **kwargs)

    @property
    def baseline(self) -> float:
        return RECALL * math.log(SYMBOLS) / (self.length + 2 * RECALL)
