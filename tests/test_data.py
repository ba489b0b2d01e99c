import numpy as np
import pytest
import torch

from biaslab.data.base import TensorBatches
from biaslab.data.digits import Digits
from biaslab.data.mnist1d import MNIST1D


def test_mnist1d_splits_match_the_paper_and_never_touch_test(data_dir):
    dm = MNIST1D(data_dir=str(data_dir))
    x_train, y_train = dm.splits["train"] if dm.splits else (None, None)
    assert x_train is None  # nothing loaded until asked
    assert dm.spec.input_shape == (1, 40) and dm.spec.num_classes == 10
    sizes = {k: len(v[0]) for k, v in dm.splits.items()}
    assert sizes == {"train": 3600, "val": 400, "test": 1000}
    assert dm.splits["train"][0].dtype == torch.float32
    assert dm.splits["train"][1].dtype == torch.long
    # standardized with train statistics
    x = dm.splits["train"][0]
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-4
    # the validation split is carved from train: no example is in both
    train_rows = {tuple(r.tolist()) for r in dm.splits["train"][0][:, 0, :5]}
    assert not any(tuple(r.tolist()) in train_rows for r in dm.splits["val"][0][:, 0, :5])


def test_mnist1d_is_cached_and_deterministic(data_dir, monkeypatch):
    first = MNIST1D(data_dir=str(data_dir))
    first.prepare_splits()
    assert first.cache_path.exists()

    def no_generation(self):
        raise AssertionError("the cached dataset should have been used")

    monkeypatch.setattr(MNIST1D, "_generate", no_generation)
    again = MNIST1D(data_dir=str(data_dir))
    again.prepare_splits()
    for split in ("train", "val", "test"):
        assert torch.equal(first.splits[split][0], again.splits[split][0])


def test_mnist1d_generation_leaves_global_rng_alone(tmp_path):
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    MNIST1D(data_dir=str(tmp_path), num_samples=200).prepare_splits()
    assert np.random.rand() == expected


def test_shift_is_added_after_normalization(data_dir):
    plain = MNIST1D(data_dir=str(data_dir))
    shifted = MNIST1D(data_dir=str(data_dir), shift=3.0)
    plain.prepare_splits(), shifted.prepare_splits()
    for split in ("train", "val", "test"):
        assert torch.allclose(shifted.splits[split][0], plain.splits[split][0] + 3.0)


def test_digits_are_8x8_images():
    dm = Digits()
    assert dm.spec.input_shape == (1, 8, 8)
    sizes = {k: len(v[0]) for k, v in dm.splits.items()}
    assert sum(sizes.values()) == 1797
    assert sizes["test"] == round(1797 * 0.2)


def test_batches_reshuffle_every_epoch_and_cover_every_example():
    x = torch.arange(10).float()
    loader = TensorBatches(x, x.long(), batch_size=4, shuffle=True, seed=1)
    assert len(loader) == 3
    epoch1 = torch.cat([b for b, _ in loader])
    epoch2 = torch.cat([b for b, _ in loader])
    assert sorted(epoch1.tolist()) == sorted(epoch2.tolist()) == list(range(10))
    assert not torch.equal(epoch1, epoch2)
    # same seed → same order, epoch by epoch
    again = TensorBatches(x, x.long(), batch_size=4, shuffle=True, seed=1)
    assert torch.equal(torch.cat([b for b, _ in again]), epoch1)
    ordered = torch.cat([b for b, _ in TensorBatches(x, x.long(), 4, shuffle=False)])
    assert torch.equal(ordered, x)


@pytest.mark.parametrize("fraction, expected", [(0.1, 400), (0.25, 1000)])
def test_val_fraction(data_dir, fraction, expected):
    dm = MNIST1D(data_dir=str(data_dir), val_fraction=fraction)
    dm.prepare_splits()
    assert len(dm.splits["val"][0]) == expected
