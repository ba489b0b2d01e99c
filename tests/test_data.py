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


def test_scale_multiplies_after_normalization_before_the_shift(data_dir):
    plain = MNIST1D(data_dir=str(data_dir))
    scaled = MNIST1D(data_dir=str(data_dir), scale=10.0, shift=-3.0)
    plain.prepare_splits(), scaled.prepare_splits()
    for split in ("train", "val", "test"):
        assert torch.allclose(scaled.splits[split][0], plain.splits[split][0] * 10.0 - 3.0)
    assert scaled.shift == -3.0 and scaled.prepare_splits() is scaled.splits


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


def test_mnist1d_larger_test_set_leaves_the_training_split_alone(tmp_path):
    """data.test_samples: a test set of the asked size from the same generator and another
    seed; the train and validation splits are bit-identical to the paper-split run's."""
    small = {"num_samples": 200, "data_dir": str(tmp_path)}
    paper = MNIST1D(**small)
    larger = MNIST1D(**small, test_samples=305)
    assert paper.cache_path != larger.cache_path  # the cache key includes it
    assert MNIST1D(**small, test_samples=305, test_seed=7).cache_path != larger.cache_path
    assert MNIST1D(**small, test_samples=None).cache_path == paper.cache_path
    a, b = paper.prepare_splits(), larger.prepare_splits()
    for split in ("train", "val"):
        for i in (0, 1):
            assert torch.equal(a[split][i], b[split][i])
    assert len(a["test"][0]) == 40 and b["test"][0].shape == (305, 1, 40)
    assert len(b["test"][1]) == 305 and set(b["test"][1].tolist()) == set(range(10))
    # drawn apart: none of the paper's test examples, none of its training examples
    rows = {tuple(r.tolist()) for split in ("train", "val", "test") for r in a[split][0][:, 0]}
    assert not any(tuple(r.tolist()) in rows for r in b["test"][0][:, 0])
    # on the paper's scale: the same standardization as the training data
    x = b["test"][0]
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1
    # the seed matters, and generation is deterministic
    again = MNIST1D(data_dir=str(tmp_path / "again"), num_samples=200, test_samples=305)
    assert torch.equal(again.prepare_splits()["test"][0], x)
    other = MNIST1D(**small, test_samples=305, test_seed=7).prepare_splits()
    assert not torch.equal(other["test"][0], x)


def test_mnist1d_larger_test_set_keeps_the_position_shuffle(tmp_path):
    """With shuffle_seq the larger test set is permuted like the training data (the paper's
    permutation), not by a permutation of its own."""
    from mnist1d.data import get_dataset_args

    from biaslab.data.mnist1d import _raw

    args = get_dataset_args()
    args.num_samples, args.shuffle_seq = 200, True
    _, _, perm = _raw(args, 42, 200)
    _, _, perm_other = _raw(args, 42 + 100_003, 300)
    assert not np.array_equal(perm, perm_other)
    dm = MNIST1D(num_samples=200, shuffle_seq=True, test_samples=300, data_dir=str(tmp_path))
    plain = MNIST1D(num_samples=200, test_samples=300, data_dir=str(tmp_path))
    # the same examples, the positions permuted by the paper's permutation
    raw_shuffled = dm._generate()["x_test"]
    raw_plain = plain._generate()["x_test"]
    assert np.allclose(raw_shuffled, raw_plain[..., perm])
