"""MNIST-1D's background level, as the model sees it: the default ``data.background_std`` of
Fashion-MNIST (conf/data/fashion_mnist.yaml).

The dataset is generated again three times with the same seed and so the same random draws:
as configured; without noise (``corr_noise_scale=0``, ``iid_noise_scale=0``); and without
noise or shear. Where the last is exactly 0, the position is background (the template's zero
padding). The first, standardized as the data module standardizes it, gives the background's
values; the difference of the first two, its noise alone.

    PYTHONPATH=src python scripts/mnist1d_background.py
"""

from __future__ import annotations

import copy
import tempfile

import torch
from mnist1d.data import get_dataset_args

from biaslab.data.mnist1d import MNIST1D, _raw


def main() -> None:
    dm = MNIST1D(data_dir=tempfile.mkdtemp())
    args = get_dataset_args()
    for k, v in dm.args.items():
        setattr(args, k, v)
    quiet = copy.copy(args)
    quiet.corr_noise_scale = quiet.iid_noise_scale = 0.0
    flat = copy.copy(quiet)
    flat.shear_scale = 0.0
    raw, clean, bare = (_raw(a, args.seed, args.num_samples)[0] for a in (args, quiet, flat))
    # make_dataset's standardization, then the data module's (its train split's mean and SD)
    paper = (raw - raw.mean()) / raw.std()
    n = int(len(raw) * args.train_split)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(dm.seed))
    train = torch.as_tensor(paper[:n])[order[round(n * dm.val_fraction) :]]
    mean, sd = float(train.mean()), float(train.std())
    z = (paper - mean) / sd
    x_train = dm.prepare_splits()["train"][0].squeeze(1).double()
    assert torch.allclose((train - mean) / sd, x_train, atol=1e-5)  # as the model sees it
    background = bare == 0
    noise = (raw - clean) / raw.std() / sd
    print(f"standardized inputs, all: SD {z.std():.4f} (train split: {x_train.std():.4f})")
    print(f"background positions: {background.mean():.1%} of all")
    print(f"background values: mean {z[background].mean():.4f}, SD {z[background].std():.4f}")
    print(f"noise alone: SD {noise[background].std():.4f} at background positions")


if __name__ == "__main__":
    main()
