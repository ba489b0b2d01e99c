"""A Hydra callback that ends every multirun with the list of jobs that did not complete.

Hydra runs every job of a sweep even when one raises, then re-raises the first failure, so
the sweep exits non-zero but names one job only. This callback reads every job's
results.json when the process exits and prints all that failed or diverged.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from biaslab.records.results import find_results, read_results


def summarize(sweep_dir: str | Path) -> tuple[int, list[tuple[str, str, str]]]:
    """(number of jobs, [(job dir, status, error)] for those not completed)."""
    paths = find_results(sweep_dir)
    bad = []
    for path in paths:
        try:
            rec = read_results(path)
        except ValueError as e:  # unreadable: counts as a failure too
            bad.append((str(path.parent), "unreadable", str(e)))
            continue
        if rec["status"] != "completed":
            err = rec.get("error") or rec.get("divergence") or rec.get("interrupted") or {}
            bad.append((str(path.parent), rec["status"], str(err.get("message", err))))
    return len(paths), bad


class FailedJobsSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        atexit.register(self._report, sweep_dir)

    @staticmethod
    def _report(sweep_dir: Path) -> None:
        total, bad = summarize(sweep_dir)
        if not bad:
            return
        lines = [f"{len(bad)} of {total} jobs failed or diverged:"]
        lines += [f"  {job}: {status}: {message}" for job, status, message in bad]
        if any(status == "interrupted" for _, status, _ in bad):  # the sweep stopped there
            stopped = {job for job, _, _ in bad}
            done = [str(p.parent) for p in find_results(sweep_dir) if str(p.parent) not in stopped]
            lines.append(f"the sweep was interrupted; completed: {', '.join(done) or 'none'}")
            # without resume=true a rerun refuses every folder that holds a run or checkpoint
            lines.append(
                "to continue: rerun the same command with resume=true (interrupted jobs go on "
                "from their checkpoints; completed ones are left as they are)"
            )
        print("\n".join(lines), file=sys.stderr)
