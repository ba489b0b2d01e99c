"""Fashion-MNIST from a copy on this machine: generated idx files (offline, always run) and
Debian's package (skipped with the reason when it is not installed)."""

import gzip
from pathlib import Path

import pytest
import torch

from biaslab.config import ConfigError, validate
from biaslab.data import download, local_copy, vision
from biaslab.data.download import DataUnavailable
from biaslab.records.results import read_results
from biaslab.run.train import main

from .image_files import write_idx_folder

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(
    local_copy.system_dir("fashion_mnist") != DEBIAN,
    reason=f"Debian's dataset-fashion-mnist is not installed (no four idx files in {DEBIAN}); "
    "apt-get install dataset-fashion-mnist",
)

# every test here: no download succeeds
pytestmark = pytest.mark.usefixtures("no_network")


def _expect(monkeypatch, written: dict) -> None:
    """Make the generated files the published ones (their MD5s), as the real ones are."""
    monkeypatch.setitem(local_copy.FILES, "fashion_mnist", written["files"])


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "decompressed"])
def test_source_dir_is_read_checked_and_cached(tmp_path, monkeypatch, no_system_copy, gz):
    written = write_idx_folder(tmp_path / "copy", gz=gz)
    _expect(monkeypatch, written)
    dm = vision.FashionMNIST(data_dir=str(tmp_path / "cache"), source_dir=str(tmp_path / "copy"))
    assert dm.spec.input_shape == (1, 28, 28) and dm.spec.num_classes == 10
    sizes = {k: len(x) for k, (x, _) in dm.splits.items()}
    assert sizes == {"train": 54, "val": 6, "test": 20}
    x_test, y_test = dm.splits["test"]
    assert x_test.dtype == torch.uint8 and y_test.dtype == torch.long
    assert torch.equal(x_test[:, 0], torch.as_tensor(written["x_test"]))
    assert torch.equal(y_test, torch.as_tensor(written["y_test"]).long())
    # cached as uint8 like every image dataset; the copy is not read again
    assert download.cache_path("fashion_mnist", tmp_path / "cache").is_file()
    for f in (tmp_path / "copy").iterdir():
        f.write_bytes(b"gone")
    again = vision.FashionMNIST(data_dir=str(tmp_path / "cache"), source_dir=str(tmp_path / "copy"))
    assert torch.equal(again.prepare_splits()["test"][0], x_test)


def test_a_system_copy_is_used_without_source_dir(tmp_path, monkeypatch):
    written = write_idx_folder(tmp_path / "usr-share")
    _expect(monkeypatch, written)
    monkeypatch.setattr(local_copy, "SYSTEM_DIRS", {"fashion_mnist": (tmp_path / "usr-share",)})
    dm = vision.FashionMNIST(data_dir=str(tmp_path / "cache"))
    assert torch.equal(dm.prepare_splits()["test"][0][:, 0], torch.as_tensor(written["x_test"]))


def test_an_incomplete_system_folder_is_passed_over_for_the_download(tmp_path, monkeypatch):
    written = write_idx_folder(tmp_path / "usr-share")
    _expect(monkeypatch, written)
    (tmp_path / "usr-share" / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setattr(local_copy, "SYSTEM_DIRS", {"fashion_mnist": (tmp_path / "usr-share",)})
    with pytest.raises(DataUnavailable, match="Fashion-MNIST is not in .* could not be downloaded"):
        vision.FashionMNIST(data_dir=str(tmp_path / "cache")).prepare_splits()


def _error(tmp_path: Path) -> str:
    with pytest.raises(DataUnavailable) as e:
        vision.FashionMNIST(
            data_dir=str(tmp_path / "cache"), source_dir=str(tmp_path / "copy")
        ).prepare_splits()
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("Fashion-MNIST: ")
    assert not download.cache_path("fashion_mnist", tmp_path / "cache").exists()
    return msg


def test_a_wrong_file_is_named_with_both_checksums(tmp_path, no_system_copy):
    write_idx_folder(tmp_path / "copy")  # random pixels: not the published dataset
    msg = _error(tmp_path)
    path = (tmp_path / "copy" / "train-images-idx3-ubyte.gz").resolve()
    assert f"{path} is not the published file" in msg
    assert "f4a8712d7a061bf5bd6d2ca38dc4d50a" in msg  # the published content's MD5
    assert "data.source_dir" in msg


def test_a_truncated_gzip_file_is_named(tmp_path, monkeypatch, no_system_copy):
    _expect(monkeypatch, write_idx_folder(tmp_path / "copy"))
    path = tmp_path / "copy" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    msg = _error(tmp_path)
    assert f"{path.resolve()} is truncated or not a gzip file" in msg


def test_a_truncated_decompressed_file_is_named(tmp_path, monkeypatch, no_system_copy):
    _expect(monkeypatch, write_idx_folder(tmp_path / "copy", gz=False))
    path = tmp_path / "copy" / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    msg = _error(tmp_path)
    assert f"{path.resolve()} is not the published file: its content is 63 bytes (truncated)" in msg


def test_a_missing_file_is_named(tmp_path, monkeypatch, no_system_copy):
    _expect(monkeypatch, write_idx_folder(tmp_path / "copy"))
    (tmp_path / "copy" / "train-labels-idx1-ubyte.gz").unlink()
    msg = _error(tmp_path)
    assert "has neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte.gz" in msg


def test_main_prints_the_wrong_file_and_exits_2(make_cfg, tmp_path, no_system_copy, capsys):
    write_idx_folder(tmp_path / "copy")
    cfg = make_cfg(
        "data=fashion_mnist",
        "model=vgg",
        f"paths.data_dir={tmp_path / 'cache'}",
        f"data.source_dir={tmp_path / 'copy'}",
    )
    with pytest.raises(SystemExit) as e:
        main(cfg)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Fashion-MNIST: ") and "\n" not in err
    assert "train-images-idx3-ubyte.gz is not the published file" in err
    assert read_results(tmp_path)["status"] == "failed"


def test_source_dir_must_be_a_folder(make_cfg, tmp_path):
    cfg = make_cfg("data=fashion_mnist", f"data.source_dir={tmp_path / 'nowhere'}")
    with pytest.raises(ConfigError, match=r"^data.source_dir=.*nowhere is not allowed"):
        validate(cfg)


# -- Debian's copy ----------------------------------------------------------------------------


@needs_debian
def test_debian_copy_is_the_published_dataset(tmp_path):
    dm = vision.FashionMNIST(data_dir=str(tmp_path))  # no source_dir: the system copy
    dm.prepare_splits()
    sizes = {k: len(x) for k, (x, _) in dm.splits.items()}
    assert sizes == {"train": 54_000, "val": 6_000, "test": 10_000}
    assert dm.spec.input_shape == (1, 28, 28)
    y = torch.cat([dm.splits["train"][1], dm.splits["val"][1]])
    assert torch.bincount(y).tolist() == [6_000] * 10
    assert torch.bincount(dm.splits["test"][1]).tolist() == [1_000] * 10
    x = dm.splits["train"][0]
    assert x.dtype == torch.uint8 and int(x.max()) == 255
    # the published mean and std that standardization uses
    pixels = torch.cat([x, dm.splits["val"][0]]).double() / 255
    assert abs(float(pixels.mean()) - vision.FashionMNIST.mean[0]) < 1e-3
    assert abs(float(pixels.std()) - vision.FashionMNIST.std[0]) < 1e-3
    assert download.cache_path("fashion_mnist", tmp_path).is_file()


@needs_debian
def test_debian_copy_as_source_dir_and_decompressed(tmp_path):
    # one file decompressed next to the others gzipped: both forms are read
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in DEBIAN.iterdir():
        (copy / f.name).symlink_to(f)
    (copy / "t10k-labels-idx1-ubyte.gz").unlink()
    labels = gzip.decompress((DEBIAN / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (copy / "t10k-labels-idx1-ubyte").write_bytes(labels)
    dm = vision.FashionMNIST(data_dir=str(tmp_path / "cache"), source_dir=str(copy))
    assert torch.bincount(dm.prepare_splits()["test"][1]).tolist() == [1_000] * 10
