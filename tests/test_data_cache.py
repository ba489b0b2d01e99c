"""A dataset cache is checked when it loads: one that loads but holds other data (labels
shifted, a split of the wrong shape or length, a NaN) is rebuilt; data that is wrong once
rebuilt, or a data folder the cache cannot be written in, is one line, never a traceback or a
run recorded as diverged."""

from __future__ import annotations

import errno
import logging
import shutil
import subprocess

import numpy as np
import pytest
import torch

from biaslab.data import download
from biaslab.data.mnist1d import MNIST1D
from biaslab.records.results import read_results
from biaslab.run.train import main

SMALL = {"num_samples": 200}


def _labels_plus_90(d):
    d["y"] = d["y"] + 90


def _short_inputs(d):
    d["x"] = d["x"][:, :30]


def _fewer_examples(d):
    d["x"], d["y"] = d["x"][:100], d["y"][:100]


def _a_nan(d):
    d["x_test"] = d["x_test"].copy()
    d["x_test"][3, 7] = np.nan


def _float_labels(d):
    d["y_test"] = d["y_test"].astype(np.float64)


TAMPER = {
    "labels + 90": (_labels_plus_90, "y holds labels 90 to 99, expected 0 to 9"),
    "wrong shape": (_short_inputs, "x has shape (160, 30), expected (160, 40)"),
    "wrong length": (_fewer_examples, "x has shape (100, 40), expected (160, 40)"),
    "NaN input": (_a_nan, "x_test holds 1 non-finite values"),
    "float labels": (_float_labels, "y_test holds 40 values of dtype float64"),
}


@pytest.mark.parametrize("case", list(TAMPER))
def test_a_cache_that_is_not_the_dataset_is_rebuilt(tmp_path, caplog, case):
    tamper, why = TAMPER[case]
    good = MNIST1D(data_dir=str(tmp_path), **SMALL)
    expected = [t.clone() for t in good.load()]
    with np.load(good.cache_path) as f:
        d = {k: f[k] for k in f.files}
    tamper(d)
    with open(good.cache_path, "wb") as f:
        np.savez(f, **d)
    with caplog.at_level(logging.WARNING, logger="biaslab.data.mnist1d"):
        again = MNIST1D(data_dir=str(tmp_path), **SMALL).load()
    assert all(torch.equal(a, b) for a, b in zip(again, expected, strict=True)), case
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"regenerating the MNIST-1D cache {good.cache_path}" in warning and why in warning
    reread = MNIST1D(data_dir=str(tmp_path), **SMALL).load()  # the cache itself was rewritten
    assert all(torch.equal(a, b) for a, b in zip(reread, expected, strict=True))
    assert len(caplog.records) == 1


def test_an_image_cache_with_other_labels_is_rebuilt(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    fresh = {
        "x": torch.as_tensor(rng.integers(0, 256, (30, 1, 28, 28), dtype=np.uint8)),
        "y": torch.as_tensor(rng.integers(0, 10, 30)),
        "x_test": torch.as_tensor(rng.integers(0, 256, (10, 1, 28, 28), dtype=np.uint8)),
        "y_test": torch.as_tensor(rng.integers(0, 10, 10)),
    }
    monkeypatch.setattr(download, "_from_torchvision", lambda name, root: dict(fresh))
    monkeypatch.setattr(download.local_copy, "system_dir", lambda name: None)
    from biaslab.data.vision import MNIST

    path = download.cache_path("mnist", tmp_path.resolve())
    torch.save({**fresh, "y": fresh["y"] + 90}, path)
    x, y, _, _ = MNIST(data_dir=str(tmp_path)).load()
    assert torch.equal(y, fresh["y"]) and torch.equal(x, fresh["x"])
    assert torch.equal(torch.load(path, weights_only=True)["y"], fresh["y"])


def test_nan_inputs_are_a_data_error_not_a_divergence(make_cfg, tmp_path, monkeypatch, capsys):
    real = MNIST1D._generate

    def with_nan(self):
        d = real(self)
        d["x"][0, 0] = np.nan
        return d

    monkeypatch.setattr(MNIST1D, "_generate", with_nan)
    data = tmp_path / "data"
    with pytest.raises(SystemExit) as e:
        main(make_cfg("model.width=2", f"paths.data_dir={data}", "data.num_samples=200"))
    assert e.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "error: MNIST-1D as generated is not the dataset: x holds 1 non-finite values"
    rec = read_results(tmp_path)
    assert rec["status"] == "failed" and rec["error"]["type"] == "BadData"
    assert not (data / "mnist1d").exists() or not list((data / "mnist1d").iterdir())


def test_constant_inputs_are_a_data_error(tmp_path):
    dm = MNIST1D(data_dir=str(tmp_path), **SMALL)
    dm.load = lambda: (torch.ones(10, 1, 40), torch.zeros(10, dtype=torch.long)) * 2
    with pytest.raises(download.DataUnavailable, match="the training inputs are constant"):
        dm.prepare_splits()


def _unwritable_line(data) -> str:
    cache = MNIST1D(data_dir=str(data), **SMALL).cache_path
    return (
        f"error: paths.data_dir={data} is not allowed: expected a writable folder (the dataset "
        f"cache {cache} cannot be written there: Read-only file system); set paths.data_dir to one"
    )


def test_an_unwritable_data_folder_is_one_line(make_cfg, tmp_path, monkeypatch, capsys):
    from biaslab.data import checks

    def read_only(path, write):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(checks, "write_file_atomic", read_only)
    data = tmp_path / "data"
    with pytest.raises(SystemExit) as e:
        main(make_cfg("model.width=2", f"paths.data_dir={data}", "data.num_samples=200"))
    assert e.value.code == 2
    assert capsys.readouterr().err.splitlines() == [_unwritable_line(data)]
    assert read_results(tmp_path)["status"] == "failed"


def test_a_read_only_data_mount_is_one_line(make_cfg, tmp_path, capsys):
    data = tmp_path / "ro"
    data.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here: the injected-error test covers a read-only folder")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(data)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        why = r.stderr.strip() or f"mount exited {r.returncode}"
        pytest.skip(f"cannot mount a tmpfs here ({why}): the injected-error test covers it")
    try:
        with pytest.raises(SystemExit) as e:
            main(make_cfg("model.width=2", f"paths.data_dir={data}", "data.num_samples=200"))
        assert e.value.code == 2
        assert capsys.readouterr().err.splitlines() == [_unwritable_line(data)]
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
