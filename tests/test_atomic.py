"""Atomic writes: a reader sees the old file or the whole new one; two writers never collide."""

from __future__ import annotations

import stat
import threading

import pytest
import torch

from biaslab.data.mnist1d import MNIST1D
from biaslab.records.atomic import write_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "results.json"
    write_text_atomic(path, "old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(path, half_then_fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_written_files_are_readable_by_others(tmp_path):
    path = write_text_atomic(tmp_path / "a.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_two_jobs_generating_the_mnist1d_cache_at_once_both_succeed(tmp_path, monkeypatch):
    # both find no cache and write it at the same moment (generated once here: the generator
    # reseeds NumPy's global RNG, which threads, unlike jobs, would share)
    barrier = threading.Barrier(2)
    arrays = MNIST1D(data_dir=str(tmp_path / "once"))._generate()

    def slow_generate(self):
        barrier.wait(timeout=30)
        return arrays

    monkeypatch.setattr(MNIST1D, "_generate", slow_generate)
    errors, loaded = [], []

    def job():
        try:
            loaded.append(MNIST1D(data_dir=str(tmp_path)).load())
        except Exception as e:  # pragma: no cover - the failure this test is about
            errors.append(e)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert torch.equal(loaded[0][0], loaded[1][0])
    assert [p.name for p in (tmp_path / "mnist1d").iterdir()] == [
        MNIST1D(data_dir=str(tmp_path)).cache_path.name
    ]


def test_a_corrupted_mnist1d_cache_is_regenerated_with_one_warning(tmp_path, caplog):
    dm = MNIST1D(data_dir=str(tmp_path))
    x = dm.load()[0]
    dm.cache_path.write_bytes(b"PK\x03\x04 not a zip file")
    with caplog.at_level("WARNING"):
        again = MNIST1D(data_dir=str(tmp_path)).load()[0]
    assert torch.equal(x, again)
    warned = [r.message for r in caplog.records if "regenerating" in r.message]
    assert len(warned) == 1 and str(dm.cache_path) in warned[0]
