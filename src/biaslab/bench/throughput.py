"""Training throughput of the project path against the raw loop, per case.

Samples/s over timed windows after warm-up steps. The project path is ``biaslab.run.train.train``
itself (data module, task, logger, Trainer from cfg.trainer, its own callbacks, fit, test,
results.json) with a :class:`~biaslab.bench.clock.WindowClock` added through its ``callbacks``
argument; the raw loop is :func:`biaslab.bench.raw.run_raw`. The two take turns (raw, project,
raw, project, ...) so that load from other processes hits both; validation is off in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.bench.cases import Case
from biaslab.bench.clock import WindowClock, Windows, take_turns
from biaslab.bench.raw import raw_device, run_raw
from biaslab.config.compose import compose_job
from biaslab.config.optimization import AUTO_STEPS
from biaslab.run.steps_per_call import KEY, resolve, steps_per_call
from biaslab.run.train import train

# Validation would land inside some windows and not others: off for both paths.
NO_VALIDATION = "++trainer.limit_val_batches=0"


@dataclass
class Plan:
    rounds: int = 3
    windows_per_round: int = 2
    window_s: float = 1.5
    warmup_s: float = 0.5
    min_warmup: int = 5
    fixed_steps: tuple[int, int] | None = None  # (warmup, window): skip the calibration

    def steps_for(self, step_s: float) -> tuple[int, int]:
        """(warmup, window) steps for a path whose step takes ``step_s``: long enough to
        average over noise, short enough that the wide 2-D nets finish on a 2-core CPU."""

        def steps(seconds: float, lo: int, hi: int) -> int:
            return int(min(hi, max(lo, math.ceil(seconds / step_s))))

        return steps(self.warmup_s, self.min_warmup, 500), steps(self.window_s, 3, 20_000)


def case_cfg(case: Case, overrides: Sequence[str], output_dir: Path, conf_dir: Path) -> DictConfig:
    """The case's config: conf/ with ``overrides`` and the case's own, its data node swapped in."""
    cfg = compose_job([*overrides, *case.overrides], output_dir, conf_dir)
    if case.data is not None:
        with open_dict(cfg):
            cfg.data = OmegaConf.create(case.data)
    return cfg


def run_project(cfg: DictConfig, windows: Windows, extra: Sequence[Callback] = ()) -> None:
    """The project's own run path, timed by ``windows``; the caller sets the step budget."""
    train(cfg, callbacks=[WindowClock(windows), *extra])


def window_steps(cfg: DictConfig, data, device, plan: Plan) -> tuple[int, int]:
    """(warmup, window) steps, sized from the raw loop's step time unless the plan fixes them."""
    if plan.fixed_steps:
        warmup, window = plan.fixed_steps
    else:
        probe = Windows(2, 3, 1, device)
        run_raw(cfg, data, probe)
        warmup, window = plan.steps_for(data.batch_size / probe.rates()[0])
    # the project path's calls of K steps end together: window marks on multiples of K (for
    # auto, of what it takes where it can run; fixed steps, as --quick's, are left as given)
    calls = steps_per_call(cfg)
    if OmegaConf.select(cfg, KEY) == "auto" and not plan.fixed_steps:
        calls = AUTO_STEPS
    return -(-warmup // calls) * calls, -(-window // calls) * calls


def bench_case(case: Case, conf_dir: Path, work: Path, base: list[str], plan: Plan) -> dict:
    cfg = case_cfg(case, [*base, NO_VALIDATION], work / f"{case.name}-{case.bias}", conf_dir)
    device = raw_device(cfg)
    data = instantiate(cfg.data)
    data.prepare_splits()

    warmup, window = window_steps(cfg, data, device, plan)

    with open_dict(cfg):
        cfg.trainer.max_steps = warmup + plan.windows_per_round * window
    resolve(cfg)  # auto: the K the project path takes with this budget

    def run(path: str, r: int, w: Windows) -> None:
        if path == "raw":
            return run_raw(cfg, data, w)
        with open_dict(cfg):  # each round's project run is a run of its own, in its own folder
            cfg.paths.output_dir = str(work / f"{case.name}-{case.bias}" / f"round-{r}")
        run_project(cfg, w)

    n = plan.windows_per_round
    turns = take_turns(
        ("raw", "project"), run, plan.rounds, lambda: Windows(warmup, window, n, device)
    )
    project, raw = turns.arm("project"), turns.arm("raw")
    # the project's extra time per step: nearly constant, so it matters for small models
    extra_s = data.batch_size * (1 / project["samples_per_s"] - 1 / raw["samples_per_s"])
    return {
        "case": case.name,
        "bias": case.bias,
        "device": str(device),
        "batch_size": int(data.batch_size),
        "train_samples": len(data.splits["train"][0]),
        "precision": str(cfg.trainer.precision),
        "steps_per_call": steps_per_call(cfg),
        "warmup_steps": warmup,
        "window_steps": window,
        "overrides": case.overrides,
        "project": project,
        "raw": raw,
        "ratio": turns.ratio(),
        "extra_ms_per_step": 1e3 * extra_s,
        "ratio_per_round": turns.paired,
        "loadavg": turns.load,
    }
