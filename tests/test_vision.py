"""Image datasets through torchvision's own classes, on tiny files in the official formats."""

import os
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from biaslab.data import download, vision
from biaslab.data.augment import crop_flip
from biaslab.data.download import DataUnavailable
from biaslab.records.results import read_results
from biaslab.run.train import main, train

from .image_files import write_cifar10, write_cifar100, write_mnist

pytest.importorskip("torchvision")

# every test here: no download succeeds, and torchvision's path is taken
pytestmark = pytest.mark.usefixtures("no_network", "no_system_copy")


@pytest.fixture
def no_checksums(monkeypatch):
    """The generated files cannot match the published MD5s: check presence only (tests only;
    the library keeps torchvision's checks)."""
    import torchvision.datasets.cifar

    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath)
    )


@pytest.fixture
def cifar10_dir(tmp_path, no_checksums):
    root = tmp_path / "data"
    written = write_cifar10(root)
    return root, written


def rows(x: torch.Tensor) -> set[bytes]:
    return {bytes(img.flatten().tolist()) for img in x}


def test_cifar10_shapes_dtypes_labels_and_split(cifar10_dir):
    root, written = cifar10_dir
    dm = vision.CIFAR10(data_dir=str(root), val_fraction=0.2)
    assert dm.spec.input_shape == (3, 32, 32) and dm.spec.num_classes == 10
    sizes = {k: len(x) for k, (x, _) in dm.splits.items()}
    assert sizes == {"train": 80, "val": 20, "test": 20}
    for x, y in dm.splits.values():
        assert x.dtype == torch.uint8 and y.dtype == torch.long
        assert int(y.min()) >= 0 and int(y.max()) < 10
    # the images are the written ones, channels first; train and val are disjoint, together
    # the whole training set
    train, val = rows(dm.splits["train"][0]), rows(dm.splits["val"][0])
    assert not train & val
    assert train | val == rows(torch.as_tensor(written["x"]))
    assert torch.equal(dm.splits["test"][0], torch.as_tensor(written["x_test"]))
    # the same split for every run (data.seed), another with another seed
    again = vision.CIFAR10(data_dir=str(root), val_fraction=0.2)
    assert torch.equal(again.prepare_splits()["val"][0], dm.splits["val"][0])
    other = vision.CIFAR10(data_dir=str(root), val_fraction=0.2, seed=7)
    assert not torch.equal(other.prepare_splits()["val"][0], dm.splits["val"][0])


def test_cifar100_has_100_fine_classes(tmp_path, no_checksums):
    write_cifar100(tmp_path)
    dm = vision.CIFAR100(data_dir=str(tmp_path))
    assert dm.spec.input_shape == (3, 32, 32) and dm.spec.num_classes == 100
    y = torch.cat([y for _, y in dm.splits.values()])
    assert len(y) == 80 and int(y.min()) >= 0 and int(y.max()) < 100


@pytest.mark.parametrize(
    "cls, folder", [(vision.MNIST, "MNIST"), (vision.FashionMNIST, "FashionMNIST")]
)
def test_mnist_formats(tmp_path, cls, folder):
    write_mnist(tmp_path, folder)
    dm = cls(data_dir=str(tmp_path))
    assert dm.spec.input_shape == (1, 28, 28) and dm.spec.num_classes == 10
    assert not dm.augment  # off by default for digits and clothes
    sizes = {k: len(x) for k, (x, _) in dm.splits.items()}
    assert sizes == {"train": 54, "val": 6, "test": 20}
    assert all(x.dtype == torch.uint8 for x, _ in dm.splits.values())


def test_the_cache_is_used_and_raw_files_are_not_read_again(cifar10_dir, monkeypatch):
    root, _ = cifar10_dir
    first = vision.CIFAR10(data_dir=str(root)).prepare_splits()
    assert download.cache_path("cifar10", root).is_file()

    def no_torchvision(name, root):
        raise AssertionError("the raw files were read although the cache exists")

    monkeypatch.setattr(download, "_from_torchvision", no_torchvision)
    for f in (root / "cifar-10-batches-py").iterdir():
        f.write_bytes(b"gone")
    again = vision.CIFAR10(data_dir=str(root)).prepare_splits()
    for split in ("train", "val", "test"):
        assert torch.equal(first[split][0], again[split][0])
        assert torch.equal(first[split][1], again[split][1])


def test_inputs_are_normalized_per_channel_and_shifted(cifar10_dir):
    root, _ = cifar10_dir
    x = vision.CIFAR10(data_dir=str(root)).prepare_splits()["val"][0][:4]
    mean = torch.tensor(vision.CIFAR10.mean).view(1, 3, 1, 1)
    std = torch.tensor(vision.CIFAR10.std).view(1, 3, 1, 1)
    out = vision.CIFAR10(data_dir=str(root), shift=3.0).inputs(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.allclose(out, (x / 255 - mean) / std + 3.0, atol=1e-5)
    plain = vision.CIFAR10(data_dir=str(root), normalize=False).inputs(x)
    assert torch.allclose(plain, x / 255)


def test_crop_flip_keeps_the_shape_and_is_a_padded_window():
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    out = crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for img, src in zip(out, padded, strict=True):
        windows = [src[:, i : i + 8, j : j + 8] for i in range(5) for j in range(5)]
        assert any(torch.equal(img, w) or torch.equal(img, w.flip(-1)) for w in windows)
    still = crop_flip(x, torch.Generator().manual_seed(0), padding=0, flip=False)
    assert torch.equal(still, x)
    flips = crop_flip(x, torch.Generator().manual_seed(0), padding=0)
    assert all(
        torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(flips, x, strict=True)
    )
    assert not torch.equal(flips, x)  # some of the 16 were mirrored


def test_augmentation_is_deterministic_per_seed_and_step(cifar10_dir):
    root, _ = cifar10_dir
    x = vision.CIFAR10(data_dir=str(root)).prepare_splits()["train"][0][:32]
    a = vision.CIFAR10(data_dir=str(root), shuffle_seed=1)
    b = vision.CIFAR10(data_dir=str(root), shuffle_seed=1)
    c = vision.CIFAR10(data_dir=str(root), shuffle_seed=2)
    assert torch.equal(a.inputs(x, step=5), b.inputs(x, step=5))
    assert a.inputs(x, step=5).shape == (32, 3, 32, 32)
    assert not torch.equal(a.inputs(x, step=5), a.inputs(x, step=6))
    assert not torch.equal(a.inputs(x, step=5), c.inputs(x, step=5))
    assert torch.equal(a.inputs(x), b.inputs(x))  # no step: evaluation, never augmented
    assert not torch.equal(a.inputs(x, step=5), a.inputs(x))


def test_no_network_gives_one_message_with_the_path_to_place(tmp_path):
    root = tmp_path / "empty"
    with pytest.raises(DataUnavailable) as e:
        vision.CIFAR10(data_dir=str(root)).prepare_splits()
    msg = str(e.value)
    assert "\n" not in msg
    assert "CIFAR-10" in msg and "could not be downloaded" in msg and "no network" in msg
    assert str(root.resolve() / "cifar-10-python.tar.gz") in msg
    assert "data=mnist1d" in msg
    with pytest.raises(DataUnavailable) as e:
        vision.MNIST(data_dir=str(root)).prepare_splits()
    msg = str(e.value)
    assert "\n" not in msg and "MNIST" in msg and "data=mnist1d" in msg
    assert f"{root.resolve() / 'MNIST' / 'raw'}/" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg


def test_an_archive_placed_by_hand_is_unpacked_without_network(cifar10_dir, monkeypatch):
    import hashlib
    import shutil
    import tarfile

    import torchvision.datasets

    root, written = cifar10_dir
    archive = root / "cifar-10-python.tar.gz"  # the path the message names
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    shutil.rmtree(root / "cifar-10-batches-py")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", md5)  # the archive is checked
    dm = vision.CIFAR10(data_dir=str(root))
    assert torch.equal(dm.prepare_splits()["test"][0], torch.as_tensor(written["x_test"]))


def test_an_os_error_while_downloading_is_reported_the_same_way(tmp_path, monkeypatch):
    def reset(*args, **kwargs):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(urllib.request, "urlopen", reset)
    with pytest.raises(DataUnavailable, match="CIFAR-100 is not in .*connection reset"):
        vision.CIFAR100(data_dir=str(tmp_path)).prepare_splits()


def test_a_corrupted_batch_file_is_a_clear_error_not_a_pickle_traceback(cifar10_dir):
    root, _ = cifar10_dir
    (root / "cifar-10-batches-py" / "data_batch_3").write_bytes(os.urandom(4096))
    with pytest.raises(DataUnavailable) as e:
        vision.CIFAR10(data_dir=str(root)).prepare_splits()
    msg = str(e.value)
    assert "CIFAR-10" in msg and "corrupted" in msg
    assert f"Delete {root.resolve() / 'cifar-10-batches-py'}" in msg
    assert "data=mnist1d" in msg and "\n" not in msg


def test_a_corrupted_idx_file_is_a_clear_error(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00" * 10)
    with pytest.raises(DataUnavailable, match="MNIST: the files in .* are corrupted"):
        vision.MNIST(data_dir=str(tmp_path)).prepare_splits()


def test_main_prints_the_message_and_exits_2(make_cfg, tmp_path, capsys):
    cfg = make_cfg("data=cifar10", "model=resnet", f"paths.data_dir={tmp_path / 'none'}")
    with pytest.raises(SystemExit) as e:
        main(cfg)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: CIFAR-10 is not in") and "\n" not in err
    assert read_results(tmp_path)["status"] == "failed"


def test_resnet_trains_on_cifar_files_end_to_end(make_cfg, cifar10_dir, tmp_path, monkeypatch):
    root, _ = cifar10_dir
    augmented = []

    def counting(x, generator, padding=4, flip=True, fill=None):
        augmented.append(len(x))
        return crop_flip(x, generator, padding, flip, fill)

    monkeypatch.setattr(vision, "crop_flip", counting)
    cfg = make_cfg(
        "data=cifar10",
        f"paths.data_dir={root}",
        "data.batch_size=16",
        "model=resnet",
        "model.depth=8",
        "model.width=4",
        "trainer.max_steps=5",
        "trainer.val_check_interval=5",
        output_dir=tmp_path / "run",
    )
    assert cfg.data.augment is True and cfg.model.compile is False
    out = train(cfg)
    rec = read_results(tmp_path / "run")
    assert out["status"] == rec["status"] == "completed"
    assert rec["metrics"]["steps"] == 5
    assert augmented == [16] * 5  # every training batch, and no evaluation batch
    assert 0 <= rec["metrics"]["test/acc"] <= 1
    assert rec["config"]["model"]["_target_"] == "biaslab.models.resnet.ResNet"
    assert np.isfinite(rec["metrics"]["test/loss"])
