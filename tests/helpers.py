"""What several test modules share: fake runs for the report (results.json files with known
answers), a training run that crashes at a given step, and a preset's jobs and header."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np

from biaslab import report
from biaslab.config.compose import CONF_DIR, compose_with_hydra, sweep_jobs
from biaslab.records.results import write_results

NOISE = np.random.default_rng(0).normal(0.0, 0.002, size=(64,))


def write_run(
    root: Path,
    name: str,
    *,
    seed: int,
    bias,
    width: int = 25,
    metrics: dict | None = None,
    status: str = "completed",
    error: dict | None = None,
    acc: float | None = None,
    extra: dict | None = None,
    record: dict | None = None,
) -> Path:
    """A results.json shaped like train.py's, including the keys that differ per run for
    bookkeeping only (output paths, shuffle seed) and must not split groups."""
    out = root / name
    config = {
        "task_name": "train",
        "seed": seed,
        "tags": [],
        "optimized_metric": "val/acc",
        "model": {
            "_target_": "biaslab.models.cnn.CNN",
            "width": width,
            "depth": 3,
            "bias": bias,
            "kernel_size": [5, 3, 3],
        },
        "data": {"seed": 42, "shuffle_seed": seed, "data_dir": "/tmp/data"},
        "trainer": {"max_steps": 100, "default_root_dir": str(out)},
        "paths": {"output_dir": str(out), "data_dir": "/tmp/data"},
        "logger": {"save_dir": str(out)},
        **(extra or {}),
    }
    record = {
        **(record or {}),
        "status": status,
        "seed": seed,
        "overrides": [f"model.bias={str(bias).lower()}", f"model.width={width}", f"seed={seed}"],
        "config": config,
        "metrics": metrics if metrics is not None else {"test/acc": acc, "test/loss": 1 - acc},
        "params": {
            "params/total": 100 * width + (10 * width if bias is True else 0),
            "params/bias": 10 * width if bias is True else 0,
            "params/norm": 0,
            "params/trainable": 100 * width,
        },
    }
    if error:
        record["error"] = error
    return write_results(out, record)


def bias_sweep(root: Path, *, gain: float, seeds=range(5), widths=(25,), true_seeds=None):
    """bias=true scores exactly ``gain`` above bias=false, plus small noise, for each seed."""
    for w in widths:
        for s in seeds:
            base = 0.70 + 0.01 * s + NOISE[s]
            write_run(root, f"w{w}_s{s}_f", seed=s, bias=False, width=w, acc=base)
        for s in true_seeds if true_seeds is not None else seeds:
            base = 0.70 + 0.01 * s + NOISE[s]
            write_run(
                root, f"w{w}_s{s}_t", seed=s, bias=True, width=w, acc=base + gain + NOISE[32 + s]
            )


def build(root: Path, **kw) -> report.Report:
    return report.build_report(report.load_files([root]), report.ReportOptions(**kw))


def paired_runs(root: Path, base: list[float], diffs: list[float], *, width=25, metric="test/acc"):
    """Seed i: bias=false scores base[i], bias=true base[i] + diffs[i]."""
    for s, (b, d) in enumerate(zip(base, diffs, strict=True)):
        for bias, value in ((False, b), (True, b + d)):
            metrics = {metric: value, "train/loss": 0.3}
            write_run(
                root, f"w{width}_s{s}_{bias}", seed=s, bias=bias, width=width, metrics=metrics
            )


class Crash(L.Callback):
    """Fails the run at the start of step ``step``: a kill right after the checkpoint before."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step + 1 == self.step:
            raise RuntimeError(f"killed at step {self.step}")


def jobs(name: str, *args: str) -> list[dict[str, str]]:
    return sweep_jobs(name, args)


def runs(name: str) -> int:
    """The runs a preset's sweep makes: its jobs × the seeds each job packs (or the swept
    seeds, for a preset whose model does not pack)."""
    k = compose_with_hydra([f"+experiment={name}"]).train.parallel_seeds
    return len(jobs(name)) * k


def header(name: str) -> str:
    text = Path(CONF_DIR / "experiment" / f"{name}.yaml").read_text()
    # the comment lines as one text, so a phrase may wrap
    return " ".join(line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#"))
