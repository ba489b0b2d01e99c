"""Runs a study's jobs: ``python train.py -m ...`` in a subprocess (Hydra's multirun with the
plan's launcher), one sweep folder per launch under ``DIR/runs/``, seeds packed by the batch.
Jobs that no one product of values holds (two arms at different learning rates) are several
sweeps; under joblib's ``n_jobs=N`` up to N of them run side by side, sharing the N workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from biaslab.config.compose import ROOT
from biaslab.study.plan import Plan
from biaslab.study.records import HASH_KEY

Job = tuple[tuple[str, str], ...]  # (key, value) overrides of one job, seed included


def products(jobs: list[Job]) -> list[list[str]]:
    """The jobs as few multirun sweeps as merging allows: jobs that differ in one key only
    become one ``key=v1,v2`` sweep, repeated over every key until nothing merges (Hydra's
    sweeper expands a product, not a list)."""
    if not jobs:
        return []
    keys = [k for k, _ in jobs[0]]
    items = [tuple((v,) for _, v in job) for job in dict.fromkeys(jobs)]
    merged = True
    while merged:
        merged = False
        for i in range(len(keys)):
            groups: dict[tuple, list[tuple[str, ...]]] = defaultdict(list)
            for item in items:
                groups[item[:i] + item[i + 1 :]].append(item[i])
            if len(groups) < len(items):
                items = [
                    rest[:i] + (tuple(v for vs in values for v in vs),) + rest[i:]
                    for rest, values in groups.items()
                ]
                merged = True
    return [[f"{k}={','.join(vs)}" for k, vs in zip(keys, item, strict=True)] for item in items]


def sweep_folder(folder: Path, tag: str) -> Path:
    """A fresh sweep folder for this launch (a launch killed before is not written into)."""
    attempt = 1
    while True:
        path = folder / "runs" / (tag if attempt == 1 else f"{tag}-r{attempt}")
        if not path.exists():
            return path
        attempt += 1


N_JOBS = re.compile(r"hydra\.launcher\.n_jobs=(\d+)$")


def side_by_side(launcher: list[str], sweeps: int) -> tuple[int, list[str]]:
    """How many of ``sweeps`` run at once, and the launcher overrides each runs with: under
    joblib's ``n_jobs=N`` up to N at once, the N workers shared between them (never more jobs
    at a time than N); under any other launcher one at a time, as the plan gives it."""
    n = next((int(m[1]) for o in launcher if (m := N_JOBS.match(o))), 1)
    if "hydra/launcher=joblib" not in launcher or n < 2 or sweeps < 2:
        return 1, launcher
    at_once = min(n, sweeps)
    own = [o for o in launcher if not N_JOBS.match(o)]
    return at_once, [*own, f"hydra.launcher.n_jobs={n // at_once}"]


def command(
    plan: Plan, plan_hash: str, sweep: list[str], out: Path, launcher: list[str] | None = None
) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"+experiment={plan.experiment}",
        *plan.overrides,
        f"logger={plan.logger}",
        f"train.parallel_seeds={plan.batch if plan.pack else 1}",
        f"+{HASH_KEY}={plan_hash}",
        f"hydra.sweep.dir={out.resolve()}",
        *(plan.launcher if launcher is None else launcher),
        *sweep,
    ]


def environment(plan: Plan) -> dict[str, str]:
    """The jobs' environment: the caller's, with the plan's thread count where it fixes one."""
    env = os.environ.copy()
    if plan.threads is not None:
        env["OMP_NUM_THREADS"] = str(plan.threads)
    return env


def launch(plan: Plan, plan_hash: str, folder: Path, tag: str, jobs: list[Job]) -> None:
    """Run ``jobs`` (each sweep in its own folder); a job that fails is left for the records
    to show (its place then holds a failed outcome, or none)."""
    sweeps = products(jobs)
    at_once, launcher = side_by_side(plan.launcher, len(sweeps))
    runs = []
    for sweep in sweeps:  # folders first, in order: each launch gets the next free name
        out = sweep_folder(folder, tag)
        out.mkdir(parents=True)
        cmd = command(plan, plan_hash, sweep, out, launcher)
        (out / "command.txt").write_text(" ".join(cmd[1:]) + "\n")
        runs.append((cmd, out))

    def run(cmd: list[str], out: Path) -> None:
        with open(out / "launch.log", "w") as log:
            subprocess.run(cmd, cwd=ROOT, env=environment(plan), stdout=log, stderr=log)

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        for done in [pool.submit(run, cmd, out) for cmd, out in runs]:
            done.result()
