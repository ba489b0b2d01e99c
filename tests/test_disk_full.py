"""A full disk anywhere a run writes (a checkpoint, results.json, the dataset cache, W&B's
offline files) ends the run with a ``failed`` record when the record fits, else one line, and
exit 1; no partial file is left. Tested by injecting the error as torch and numpy raise it,
and for real on a tiny tmpfs where this process may mount one."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess

import pytest
import torch

from biaslab.records.results import read_results
from biaslab.run.train import main

from .conftest import run_cli

SMALL = ("model.width=2",)
# what torch.save raises when a write into its file fails: the OSError is only its context
TORCH_MESSAGE = "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"


def torch_full_disk(obj, f, *args, **kwargs):
    """torch.save on a full disk: part written, then torch's RuntimeError."""
    f.write(b"partial")
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError:
        raise RuntimeError(TORCH_MESSAGE)  # noqa: B904 - as torch: the OSError as context


def _one_line(capsys) -> str:
    (line,) = capsys.readouterr().err.splitlines()
    return line


def test_torchs_error_at_a_checkpoint_is_a_full_disk(make_cfg, tmp_path, monkeypatch, capsys):
    from biaslab.resume import checkpointing

    monkeypatch.setattr(checkpointing.torch, "save", torch_full_disk)
    with pytest.raises(SystemExit) as e:
        main(make_cfg(*SMALL))
    assert e.value.code == 1
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert _one_line(capsys) == f"error: no space left on device: {ckpt}"
    assert not list(ckpt.parent.iterdir())  # neither last.ckpt nor the partial temp file
    rec = read_results(tmp_path)
    assert rec["status"] == "failed"
    assert rec["error"] | {"traceback": None} == {
        "type": "DiskFull",
        "message": f"no space left on device: {ckpt}",
        "traceback": None,
    }


def test_no_room_for_the_record_either_is_one_line(make_cfg, tmp_path, monkeypatch, capsys):
    from biaslab.records import results
    from biaslab.resume import checkpointing

    def no_room(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpointing.torch, "save", torch_full_disk)
    monkeypatch.setattr(results, "write_text_atomic", no_room)
    with pytest.raises(SystemExit) as e:
        main(make_cfg(*SMALL))
    assert e.value.code == 1
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert _one_line(capsys) == (
        f"error: no space left on device: {ckpt} (nor room for {tmp_path / 'results.json'})"
    )
    assert not (tmp_path / "results.json").exists()


def test_a_full_disk_at_the_dataset_cache(make_cfg, tmp_path, monkeypatch, capsys):
    from biaslab.data import mnist1d

    def full(f, **arrays):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mnist1d.np, "savez", full)
    data = tmp_path / "fresh-data"  # no cache yet: the run generates and writes one
    cfg = make_cfg(*SMALL, f"paths.data_dir={data}", "data.num_samples=200")
    with pytest.raises(SystemExit) as e:
        main(cfg)
    assert e.value.code == 1
    cache = mnist1d.MNIST1D(data_dir=str(data), num_samples=200).cache_path
    assert _one_line(capsys) == f"error: no space left on device: {cache}"
    assert not list(cache.parent.iterdir())  # no cache, no partial temp file
    assert read_results(tmp_path)["error"]["type"] == "DiskFull"


@pytest.fixture
def tiny_fs(tmp_path):
    """``tiny_fs(kib)``: a fresh tmpfs of that size, unmounted after the test; the test is
    skipped, with the reason, where this process may not mount one."""
    mounted = []

    def mount(kib: int):
        target = tmp_path / f"tmpfs{len(mounted)}"
        target.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command here: the injected-error tests cover a full disk")
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(target)],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            why = r.stderr.strip() or f"mount exited {r.returncode}"
            pytest.skip(f"cannot mount a tmpfs here ({why}): the injected-error tests cover it")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_a_full_tmpfs_at_the_second_checkpoint(tiny_fs, tmp_path, data_dir):
    # 44 KiB: .hydra/ (3 pages), the folder's lock (1), one 15 KB checkpoint (4) and the
    # record fit, a second checkpoint does not
    run = tiny_fs(44) / "run"
    args = ["logger=none", "trainer.max_steps=20", "checkpoint.every_n_steps=10", *SMALL]
    r = run_cli([*args, f"paths.data_dir={data_dir}", f"hydra.run.dir={run}"], tmp_path)
    ckpt = run / "checkpoints" / "last.ckpt"
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines()[-1] == f"error: no space left on device: {ckpt}", r.stderr
    assert "Traceback" not in r.stderr and "Logging error" not in r.stderr, r.stderr
    assert [p.name for p in ckpt.parent.iterdir()] == ["last.ckpt"]  # no partial temp file
    assert torch.load(ckpt, weights_only=True)["global_step"] == 10  # the previous one, intact
    rec = json.loads((run / "results.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["type"] == "DiskFull"


def test_a_full_tmpfs_under_wandbs_offline_files(tiny_fs, tmp_path, data_dir):
    save_dir = tiny_fs(8)  # two pages: W&B's offline run cannot close its files
    run = tmp_path / "run"
    args = ["logger=wandb", "trainer.max_steps=20", *SMALL, f"logger.save_dir={save_dir}"]
    r = run_cli([*args, f"paths.data_dir={data_dir}", f"hydra.run.dir={run}"], tmp_path)
    assert r.returncode == 1, r.stderr
    last = r.stderr.splitlines()[-1]
    assert last.startswith(f"error: no space left on device: {save_dir}/wandb/offline-run-")
    assert "Traceback" not in r.stderr and "Logging error" not in r.stderr, r.stderr[-3000:]
    rec = json.loads((run / "results.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["message"] == last.removeprefix("error: ")
