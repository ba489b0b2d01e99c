"""Runs a study's jobs: ``python train.py -m ...`` in a subprocess (Hydra's multirun with the
plan's launcher), one sweep folder per launch under ``DIR/runs/``, seeds packed by the batch.
Jobs that no one product of values holds (two arms at different learning rates) are several
sweeps; under joblib's ``n_jobs=N`` up to N of them run side by side, sharing the N workers."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
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


def size(sweep: list[str]) -> int:
    """How many jobs a sweep (``key=v1,v2`` overrides) expands to."""
    return math.prod(len(o.split("=", 1)[1].split(",")) for o in sweep)


def side_by_side(launcher: list[str], sizes: list[int]) -> tuple[int, list[str]]:
    """How many of the sweeps of ``sizes`` jobs run at once, and the launcher overrides each
    runs with. Under joblib's ``n_jobs=N``, up to N at once with the N workers shared between
    them, where each sweep fits its share (a look's arms at different lrs: one job each);
    otherwise one at a time, as the plan gives it (never slower than that, never more than N
    jobs at a time)."""
    n = next((int(m[1]) for o in launcher if (m := N_JOBS.match(o))), 1)
    at_once = min(n, len(sizes))
    if "hydra/launcher=joblib" not in launcher or at_once < 2 or max(sizes) > n // at_once:
        return 1, launcher
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
    at_once, launcher = side_by_side(plan.launcher, [size(sw) for sw in sweeps])
    waiting = []
    for sweep in sweeps:  # folders first, in order: each launch gets the next free name
        out = sweep_folder(folder, tag)
        out.mkdir(parents=True)
        cmd = command(plan, plan_hash, sweep, out, launcher)
        (out / "command.txt").write_text(" ".join(cmd[1:]) + "\n")
        waiting.append((cmd, out))
    running: list[subprocess.Popen] = []
    try:
        while waiting or running:
            while waiting and len(running) < at_once:
                cmd, out = waiting.pop(0)
                with open(out / "launch.log", "w") as log:  # the child keeps its own copy
                    running.append(subprocess.Popen(cmd, cwd=ROOT, env=environment(plan),
                                                    stdout=log, stderr=log))  # fmt: skip
            running = [p for p in running if p.poll() is None]
            if running:
                time.sleep(0.2)
    finally:  # interrupted (Ctrl-C, an error): no sweep starts, none outlives the study
        _stop(running)


def _stop(running: list[subprocess.Popen], grace: float = 60.0) -> None:
    """End the sweeps still running. A terminal's Ctrl-C has reached them too (one process
    group): each run stops at the end of its step and records ``interrupted``, which a second
    signal would cut short, so they get ``grace`` seconds to end by themselves; then SIGTERM,
    then SIGKILL."""
    deadline = time.monotonic() + grace
    for p in running:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.terminate()
    for p in running:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
