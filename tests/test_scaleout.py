"""Scaling out: DDP on CPU processes, mixed precision, and output folders that never collide."""

import json
import math
import subprocess

import pytest
import torch
from lightning.fabric.plugins.environments.lightning import find_free_network_port
from lightning.fabric.utilities.rank_zero import rank_zero_only

from biaslab.config import ConfigError
from biaslab.config.compose import compose_with_hydra
from biaslab.data.base import TensorBatches
from biaslab.run import distributed
from biaslab.run.train import train
from biaslab.tasks.guards import Diverged, DivergenceGuard

from .conftest import CONF, compose_cfg, run_cli, start_cli
from .wandb_records import run_contents

DDP = ["trainer=ddp_cpu", "trainer.max_steps=40", "trainer.val_check_interval=20"]


def _job_dirs(root):
    """Every folder Hydra made a job in (it writes .hydra/ there)."""
    return sorted(p.parent for p in root.rglob(".hydra"))


# -- sharding ------------------------------------------------------------------------------


@pytest.mark.parametrize("n, shuffle", [(23, True), (23, False), (20, True), (17, False)])
def test_ranks_split_every_global_batch_of_the_one_device_order(n, shuffle):
    x = torch.arange(n)
    one = [b.tolist() for b, _ in TensorBatches(x, x, 8, shuffle, seed=5)]
    r0, r1 = (
        [b.tolist() for b, _ in TensorBatches(x, x, 4, shuffle, seed=5, rank=r, world_size=2)]
        for r in (0, 1)
    )
    assert len(r0) == len(one) >= len(r1)
    for i, batch in enumerate(one):
        joined = r0[i] + (r1[i] if i < len(r1) else [])
        if shuffle:  # equal steps on both ranks; the last is padded from the epoch's start
            assert len(r0[i]) == len(r1[i])
            assert joined[: len(batch)] == batch
        else:  # evaluation: each example once, none repeated
            assert joined == batch


# -- DDP on CPU ----------------------------------------------------------------------------


def test_ranks_are_spawned_only_where_lightning_would_relaunch_the_script(
    tmp_path, data_dir, monkeypatch
):
    def ranks(*overrides):
        return distributed.ranks_to_spawn(compose_cfg(list(overrides), tmp_path, data_dir))

    assert ranks("trainer=ddp_cpu") == 2
    assert ranks("trainer=ddp_cpu", "trainer.devices=1") == 0
    assert ranks("trainer=cpu") == 0
    monkeypatch.setenv("LOCAL_RANK", "1")  # a rank already started (torchrun, srun, spawn)
    assert ranks("trainer=ddp_cpu") == 0
    # asking does not leave this process believing it is rank 1 (W&B would log nothing)
    assert rank_zero_only.rank == 0


@pytest.mark.slow
def test_ddp_cpu_run_gives_one_results_json_and_one_wandb_run(tmp_path, data_dir):
    proc = run_cli([*DDP, f"paths.data_dir={data_dir}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"]  # no multirun/, no stray dirs
    (job,) = _job_dirs(tmp_path)
    (res,) = job.rglob("results.json")
    assert res.parent == job
    rec = json.loads(res.read_text())
    assert rec["status"] == "completed"
    assert rec["world_size"] == 2
    m = rec["metrics"]
    assert 0 <= m["test/acc"] <= 1 and m["steps"] == 40
    assert m["val/acc_best_step"] in (20, 40)
    assert (job / "checkpoints" / "last.ckpt").exists()
    (run_file,) = job.glob("wandb/offline-run-*/run-*.wandb")  # rank 0 logs, alone
    config, summary = run_contents(run_file)
    assert config["trainer"]["devices"] == 2
    assert summary["test/acc"] == pytest.approx(m["test/acc"])
    assert "step 40/40  val/acc" in (job / "train.log").read_text()  # rank 0's progress lines


@pytest.mark.slow
def test_ddp_cpu_multirun_gives_one_job_dir_per_job(tmp_path, data_dir):
    proc = run_cli(["-m", "seed=0,1", *DDP, "logger=none", f"paths.data_dir={data_dir}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in tmp_path.iterdir()] == ["multirun"]
    jobs = _job_dirs(tmp_path)
    assert [j.name for j in jobs] == ["0", "1"]
    assert jobs[0].parent == jobs[1].parent  # one sweep folder
    records = [json.loads((j / "results.json").read_text()) for j in jobs]
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert [r["seed"] for r in records] == [0, 1]
    assert records[0]["metrics"]["test/acc"] != records[1]["metrics"]["test/acc"]
    assert len(list(tmp_path.rglob("results.json"))) == 2


@pytest.mark.slow
def test_ddp_cpu_jobs_run_inside_joblib_workers(tmp_path, data_dir):
    # a loky worker's start method is one its spawned ranks cannot set: they must still start
    overrides = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "-m", "seed=0,1", *DDP]
    proc = run_cli([*overrides, "logger=none", f"paths.data_dir={data_dir}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads((j / "results.json").read_text()) for j in _job_dirs(tmp_path)]
    assert [(r["status"], r["seed"], r["world_size"]) for r in records] == [
        ("completed", 0, 2),
        ("completed", 1, 2),
    ]


def _guard_rank(rank, port, losses, queue):
    """One rank of a 2-process gloo group checking its own loss with the DDP strategy."""
    import os
    from types import SimpleNamespace

    from lightning.pytorch.strategies import DDPStrategy

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    trainer = SimpleNamespace(global_step=10, max_steps=100, strategy=DDPStrategy())
    try:
        DivergenceGuard().on_train_batch_end(
            trainer, SimpleNamespace(device="cpu"), torch.tensor(losses[rank]), None, 0
        )
        queue.put((rank, None))
    except Diverged as e:
        queue.put((rank, e.step))
    finally:
        torch.distributed.destroy_process_group()


def test_a_nan_on_one_rank_stops_every_rank_at_the_same_step():
    # one rank stopping alone would leave the other waiting in the next gradient all-reduce
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.SimpleQueue()
    losses = [0.5, float("nan")]  # only rank 1's batch blew up
    torch.multiprocessing.start_processes(
        _guard_rank, args=(find_free_network_port(), losses, queue), nprocs=2, start_method="spawn"
    )
    assert sorted(queue.get() for _ in range(2)) == [(0, 10), (1, 10)]


# -- precision -----------------------------------------------------------------------------


def test_bf16_mixed_trains_on_cpu(make_cfg):
    out = train(make_cfg("trainer.precision=bf16-mixed"))
    assert out["status"] == "completed"
    assert math.isfinite(out["metrics"]["test/acc"]) and math.isfinite(out["metrics"]["test/loss"])
    assert out["metrics"]["test/acc"] > 0.1  # 40 steps: above chance


# -- output folders ------------------------------------------------------------------------


def _hydra_dirs(*overrides):
    cfg = compose_with_hydra(overrides)
    return cfg.hydra.run.dir, cfg.hydra.sweep.dir


@pytest.mark.parametrize(
    "experiment",
    [None, *sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))],
)
def test_configs_composed_back_to_back_get_different_output_dirs(experiment):
    overrides = [f"+experiment={experiment}"] if experiment else []
    first, second = _hydra_dirs(*overrides), _hydra_dirs(*overrides)
    assert first[0] != second[0] and first[1] != second[1]  # run dirs, sweep dirs


@pytest.mark.slow
def test_two_runs_started_together_write_to_two_dirs(tmp_path, data_dir):
    args = [
        "trainer=cpu",
        "logger=none",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        f"paths.data_dir={data_dir}",
    ]
    procs = [
        start_cli(args, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()[-2000:]
    jobs = _job_dirs(tmp_path)
    assert len(jobs) == 2
    assert all(json.loads((j / "results.json").read_text())["status"] == "completed" for j in jobs)


def test_a_bad_value_under_ddp_is_recorded_once_without_starting_ranks(
    tmp_path, data_dir, monkeypatch
):
    def spawn(*args, **kwargs):
        raise AssertionError("ranks were started for a config that cannot work")

    monkeypatch.setattr(distributed, "spawn", spawn)
    cfg = compose_cfg(["trainer=ddp_cpu", "model.width=0", "logger=none"], tmp_path, data_dir)
    with pytest.raises(ConfigError, match="model.width"):
        train(cfg)
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["status"] == "failed" and "model.width" in record["error"]["message"]
