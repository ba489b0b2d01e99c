"""The launch: one writer per run or sweep folder, and refusals decided before Hydra writes
anything (a sweep's folders, packed seeds that overlap, secrets in any override, the
kernel's folders)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from biaslab.config import ConfigError, check_paths
from biaslab.config.compose import compose_with_hydra
from biaslab.launch.lock import LOCK_FILE
from biaslab.launch.sweep_plan import Job, check_seed_overlap, same_but_seeds
from biaslab.run.train import main
from biaslab.seed_parallel import KEY

from .conftest import run_cli, start_cli

TINY = ["logger=none", "trainer.val_check_interval=10"]


def _start_together(args_a: list[str], args_b: list[str], cwd: Path):
    """Two ``train.py`` processes started at once; their (pid, returncode, stderr)."""
    procs = [
        start_cli(a, cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for a in (args_a, args_b)
    ]
    return [(p.pid, p.wait(timeout=600), p.stderr.read()) for p in procs]


def _one_won(results, folder: Path, key: str):
    """Exactly one process ran; the other printed one line naming the winner's PID."""
    assert sorted(rc for _, rc, _ in results) == [0, 2], [(rc, e[-800:]) for _, rc, e in results]
    (winner,) = [i for i, (_, rc, _) in enumerate(results) if rc == 0]
    lines = results[1 - winner][2].splitlines()
    assert lines == [
        f"error: {key}={folder} is not allowed: expected a folder no other run or sweep is "
        f"writing (process {results[winner][0]} holds {LOCK_FILE} there): wait for it to "
        f"end, or choose another {key}"
    ]
    return winner


@pytest.mark.slow
def test_two_runs_into_one_folder_one_is_refused(tmp_path, data_dir):
    folder = tmp_path / "x"
    common = [*TINY, f"paths.data_dir={data_dir}", f"hydra.run.dir={folder}"]
    # long enough that the first to take the lock still holds it when the other asks
    runs = [
        [*common, "trainer.max_steps=300", "seed=0"],
        [*common, "trainer.max_steps=200", "seed=1"],
    ]
    winner = _one_won(_start_together(*runs, tmp_path), folder, "hydra.run.dir")
    seed, steps = (0, 300) if winner == 0 else (1, 200)
    rec = json.loads((folder / "results.json").read_text())
    assert (rec["config"]["seed"], rec["metrics"]["steps"]) == (seed, steps)
    typed = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
    assert f"seed={seed}" in typed and f"trainer.max_steps={steps}" in typed


@pytest.mark.slow
def test_two_sweeps_into_one_folder_one_is_refused(tmp_path, data_dir):
    folder = tmp_path / "sweep"
    common = ["-m", *TINY, f"paths.data_dir={data_dir}", f"hydra.sweep.dir={folder}"]
    sweeps = [
        [*common, "trainer.max_steps=200", "seed=0,1"],
        [*common, "trainer.max_steps=100", "seed=2,3"],
    ]
    winner = _one_won(_start_together(*sweeps, tmp_path), folder, "hydra.sweep.dir")
    seeds = [0, 1] if winner == 0 else [2, 3]
    assert f"seed={','.join(map(str, seeds))}" in (folder / "multirun.yaml").read_text()
    for job, seed in enumerate(seeds):
        rec = json.loads((folder / str(job) / "results.json").read_text())
        assert rec["config"]["seed"] == seed and rec["status"] == "completed"


@pytest.mark.slow
def test_a_killed_run_does_not_block_its_resume(tmp_path, data_dir):
    folder = tmp_path / "killed"
    args = [
        *TINY,
        "trainer.max_steps=300",
        "checkpoint.every_n_steps=20",
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={folder}",
    ]
    proc = start_cli(args, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = folder / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    # the dead holder's PID stays in the file; the kernel released its lock
    assert (folder / LOCK_FILE).read_text().strip() == str(proc.pid)
    resumed = run_cli([*args, "resume=true"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rec = json.loads((folder / "results.json").read_text())
    assert rec["status"] == "completed" and rec["resumed_from"]


@pytest.mark.slow
def test_a_refused_sweep_rewrites_no_provenance(tmp_path, data_dir):
    folder = tmp_path / "sweep"
    args = ["-m", *TINY, "seed=0,1", f"paths.data_dir={data_dir}", f"hydra.sweep.dir={folder}"]
    first = run_cli([*args, "trainer.max_steps=40"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    files = sorted([folder / "multirun.yaml", *folder.glob("*/.hydra/*"), *folder.glob("*/*.json")])
    before = {p: p.read_bytes() for p in files}
    for extra, why in (
        (["trainer.max_steps=50", "resume=true"], "resume=true is not allowed: expected the "),
        (["trainer.max_steps=40"], "already holds a completed run"),
    ):
        again = run_cli([*args, *extra], tmp_path)
        assert again.returncode == 2, again.stderr[-2000:]
        lines = again.stderr.splitlines()
        assert [line.split(": ")[1] for line in lines] == ["job 0", "job 1"], lines
        assert all(why in line for line in lines) and "Traceback" not in again.stderr
        assert {p: p.read_bytes() for p in files} == before
        assert (
            sorted([folder / "multirun.yaml", *folder.glob("*/.hydra/*"), *folder.glob("*/*.json")])
            == files
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["hydra.run.dir=/proc/x"],
            "error: hydra.run.dir=/proc/x is not allowed: expected a folder on a disk, "
            "not under /proc (the kernel's)",
        ),
        (
            ["hydra.run.dir=/sys/x"],
            "error: hydra.run.dir=/sys/x is not allowed: expected a folder on a disk, "
            "not under /sys (the kernel's)",
        ),
        (
            ["+hydra.job.env_set.WANDB_API_KEY=abc123SECRET"],
            "error: hydra.job.env_set.WANDB_API_KEY=<redacted> is not allowed",
        ),
        (
            ["+hydra.job.env_set={WANDB_API_KEY:abc123SECRET}"],
            "error: hydra.job.env_set=<redacted> is not allowed",
        ),
        (["logger.api_key=abc123SECRET"], "error: logger.api_key=<redacted> is not allowed"),
        (
            ["-m", "train.parallel_seeds=3", "seed=0,1"],
            "error: seed=0,1 is not allowed: expected start seeds at least 3 apart",
        ),
    ],
    ids=["proc", "sys", "env_set", "env_set_dict", "parse_error", "packed_seeds"],
)
def test_refused_with_one_line_before_anything_is_written(tmp_path, args, line):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = run_cli(["logger=none", "trainer.max_steps=1", *args], cwd)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(line)
    assert "abc123SECRET" not in proc.stderr + proc.stdout
    assert not list(cwd.iterdir())  # no outputs/ or multirun/ folder


@pytest.mark.parametrize(
    "override",
    [
        "+hydra.job.env_set.WANDB_API_KEY=abc123SECRET",
        "+hydra.launcher.password=abc123SECRET",
        "+hydra.job.env_set={HF_TOKEN:abc123SECRET}",
    ],
)
def test_hydra_overrides_are_screened_for_secrets(override, tmp_path):
    composed = compose_with_hydra(["logger=none", override])
    # as at a real launch: the run's folder known, whatever an earlier test left in HydraConfig
    with open_dict(composed):
        composed.hydra.runtime.output_dir = str(tmp_path)
    HydraConfig.instance().set_config(composed)
    with pytest.raises(ConfigError) as refused:
        check_paths(composed, composed.hydra)
    assert "<redacted>" in str(refused.value) and "abc123SECRET" not in str(refused.value)


def _check(*jobs):
    """check_seed_overlap over jobs given as (seed, K, other overrides)."""
    planned = [
        Job(i, (f"seed={seed}", f"{KEY}={k}", *other)) for i, (seed, k, *other) in enumerate(jobs)
    ]
    configs = {
        j: OmegaConf.create({"seed": seed, "train": {"parallel_seeds": k}})
        for j, (seed, k, *_) in zip(planned, jobs, strict=True)
    }
    check_seed_overlap(same_but_seeds(planned), configs.__getitem__)


def test_packed_seeds_may_not_overlap_within_one_config():
    _check((0, 3), (3, 3), (6, 3))  # 3 apart
    _check((0, 3, "model.bias=true"), (1, 3, "model.bias=false"))  # two arms
    with pytest.raises(
        ConfigError, match=r"jobs 0 and 1 would both train seed 2\), e.g. seed=0,3$"
    ):
        _check((0, 3), (2, 3), (5, 3, "model.bias=false"))
    with pytest.raises(ConfigError, match=r"would both train seed 0, 1\)"):
        _check((0, 2), (0, 3))  # K differs, the seeds do not: the report pools them


def test_a_sweep_job_refused_its_folder_stops_the_sweep_with_one_line(make_cfg, tmp_path, capsys):
    """A sweeper that makes jobs as it goes (Optuna) meets the folder check in the job."""
    out = tmp_path / "job"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"status": "completed"}))
    cfg = make_cfg("hydra.mode=MULTIRUN", "hydra.job.num=3", output_dir=out)
    with pytest.raises(SystemExit) as exit_info:
        main(cfg)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: job 3: {out} already holds a completed run")
