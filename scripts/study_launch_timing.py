"""Wall time of one study look whose two arms chose different learning rates (two Hydra
sweeps): side by side under joblib's two workers, against one after the other as the launch
ran them before (``side_by_side`` held at one sweep at a time). Each way runs twice, in turns.

    PYTHONPATH=src python scripts/study_launch_timing.py

MNIST-1D, width 32, 3 packed seeds, 3,000 steps, one thread a job; plan in a temporary folder
(tuning and confirmation seeds never published).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from biaslab.study import launch
from biaslab.study.cli import main as study_main
from biaslab.study.plan import read

STEPS = ["trainer.max_steps=3000", "trainer.val_check_interval=1000", "data.test_samples=500"]
JOBS = [
    (("model.bias", "true"), ("optimizer.lr", "0.01"), ("seed", "9200")),
    (("model.bias", "false"), ("optimizer.lr", "0.003"), ("seed", "9200")),
]


def main() -> None:
    folder = Path(tempfile.mkdtemp()) / "study"
    args = ["plan", "+experiment=bias_vs_width", "model.width=32", "trainer=cpu", *STEPS]
    opts = ["--grid=0.003,0.01,0.03", "--batch=3", "--cap=3", "--tuning-seed=9000",
            "--confirm-seed=9200", "--threads=1",
            "--launcher=hydra/launcher=joblib hydra.launcher.n_jobs=2"]  # fmt: skip
    assert study_main([*args, *opts, f"--out={folder}"]) == 0
    plan, plan_hash = read(folder)
    side_by_side = launch.side_by_side
    for way in ("one after the other", "side by side") * 2:
        launch.side_by_side = (
            side_by_side if way == "side by side" else (lambda launcher, sizes: (1, launcher))
        )
        t = time.perf_counter()
        launch.launch(plan, plan_hash, folder, "timing", JOBS)
        print(f"{way}: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
