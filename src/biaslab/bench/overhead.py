"""The fixed cost of one job of a multirun: ``jobs`` tiny jobs through the unchanged
``biaslab.run.train.train``, one after the other in one process, as Hydra's basic launcher
runs them.

What each figure measures (seconds, wall clock; the job's segments add up to ``total_s``):

- ``compose_s``: composing conf/ with the overrides (outside ``train()``);
- ``setup_s``: ``train()`` called → Lightning's ``on_fit_start``: validation, seeding, loading
  the data, building model and task, starting the logger, building the Trainer;
- ``fit_start_to_first_step_s``: ``on_fit_start`` → the first ``on_train_batch_start``: data to
  the device, optimizer set-up, Lightning's loop start;
- ``train_loop_s``: first step's start → last step's end (the work, not overhead);
- ``last_step_to_test_s``: last step → ``on_test_start``: end of fit, end checkpoint, test set-up;
- ``test_s``: ``on_test_start`` → ``on_test_end``;
- ``test_to_return_s``: ``on_test_end`` → ``train()`` returns: results.json and closing the logger;
- ``overhead_s``: ``total_s`` minus ``train_loop_s``.

The hook times come from a :class:`~biaslab.bench.clock.JobClock` passed to
``train(cfg, callbacks=...)``. The logger's share cannot be seen from a hook (it starts before
the Trainer exists), so the jobs run a second time with ``logger=none``: ``logger_s`` is the
difference of the median ``total_s`` of the two (0 when the jobs have no logger).
"""

from __future__ import annotations

import statistics
import time
from itertools import pairwise
from pathlib import Path

from biaslab.bench.clock import JobClock
from biaslab.config.compose import compose_job
from biaslab.run.train import train

SEGMENTS = (
    "setup_s",
    "fit_start_to_first_step_s",
    "train_loop_s",
    "last_step_to_test_s",
    "test_s",
    "test_to_return_s",
)


def one_job(overrides: list[str], output_dir: Path, conf_dir: Path) -> tuple[dict, bool]:
    """The job's figures, and whether it had a logger."""
    t0 = time.perf_counter()
    cfg = compose_job(overrides, output_dir, conf_dir)
    clock = JobClock()
    called = time.perf_counter()
    out = train(cfg, callbacks=[clock])
    returned = time.perf_counter()
    c = {"call": called, **clock.t, "return": returned}
    marks = ("call", "fit_start", "first_step", "last_step", "test_start", "test_end", "return")
    row = {"compose_s": called - t0}
    row |= {name: c[b] - c[a] for name, (a, b) in zip(SEGMENTS, pairwise(marks), strict=True)}
    row["total_s"] = returned - called
    row["overhead_s"] = row["total_s"] - row["train_loop_s"]
    row["steps"] = int(out["metrics"]["steps"])
    return row, out["run"] is not None


def _median(rows: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def job_overhead(conf_dir: Path, work: Path, base: list[str], jobs: int, steps: int) -> dict:
    """``jobs`` jobs of ``steps`` training steps with the configured logger, then as many
    without one. The first job pays what the first job of a multirun pays (W&B's service
    start, Lightning's lazy imports): it is reported on its own as ``first_job``."""
    overrides = [*base, f"trainer.max_steps={steps}"]
    runs = [one_job(overrides, work / f"job{j}", conf_dir) for j in range(jobs)]
    per_job = [row for row, _ in runs]
    median = _median(per_job)
    no_logger = None
    # with logger=none already, a second pass would only repeat the first
    if any(logged for _, logged in runs):
        quiet = [*overrides, "logger=none"]  # the last value of a key wins
        rows = [one_job(quiet, work / f"job{j}-nolog", conf_dir)[0] for j in range(jobs)]
        no_logger = {"median": _median(rows), "per_job": rows}
    return {
        "jobs": jobs,
        "steps_per_job": steps,
        "method": (
            "in-process train(cfg) repeated; segments between Lightning callback hooks "
            "(on_fit_start, first/last on_train_batch_*, on_test_start/end) added with "
            "train(cfg, callbacks=...) and wall time around train(); logger_s = median "
            "total_s minus that of the same jobs with logger=none"
        ),
        "median": median,
        "logger_s": median["total_s"] - no_logger["median"]["total_s"] if no_logger else 0.0,
        "first_job": per_job[0],
        "per_job": per_job,
        "no_logger": no_logger,
    }
