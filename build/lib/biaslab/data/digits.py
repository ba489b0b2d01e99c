"""scikit-learn's bundled 8×8 handwritten digits (1,797 images) as 1×8×8 images."""

from __future__ import annotations

import torch

from biaslab.data.base import TensorDataModule
from biaslab.schema import Fraction


class Digits(TensorDataModule):
    """Pixel values 0–16; the test split is a fixed fraction drawn with ``data.seed``."""

    num_classes = 10

    def __init__(self, test_fraction: Fraction = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.test_fraction = test_fraction

    def load(self):
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.as_tensor(d.images, dtype=torch.float32).unsqueeze(1)
        y = torch.as_tensor(d.target, dtype=torch.long)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        n_test = round(len(x) * self.test_fraction)
        test, train = order[:n_test], order[n_test:]
        return x[train], y[train], x[test], y[test]
