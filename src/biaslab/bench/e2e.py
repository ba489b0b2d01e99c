"""The default ``python train.py`` end to end, as a user starts it: a subprocess from the
checkout, its output in a scratch folder instead of outputs/.

``wall_s`` is the subprocess's wall time (interpreter start, imports, Hydra, training, test,
results.json, W&B close); ``train_fn_s``, ``fit_s`` and ``test_s`` are the run's own timings
from its results.json; ``outside_train_fn_s`` is what ``train()`` never sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from biaslab.records.results import read_results


def end_to_end(root: Path, work: Path, data_dir: str | None, threads: int | None) -> dict:
    run_dir = work / "e2e"
    cmd = [sys.executable, "train.py", f"hydra.run.dir={run_dir}"]
    if data_dir:
        cmd.append(f"paths.data_dir={data_dir}")
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads, as --threads here
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rec = read_results(run_dir)
    timing = rec["timing"]
    return {
        "command": " ".join(cmd[1:]),
        "wall_s": wall,
        "test/acc": rec["metrics"].get("test/acc"),
        "steps": rec["metrics"].get("steps"),
        "train_fn_s": timing["total_s"],
        "fit_s": timing["fit_s"],
        "test_s": timing["test_s"],
        "outside_train_fn_s": wall - timing["total_s"],
    }
