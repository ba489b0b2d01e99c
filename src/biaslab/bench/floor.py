"""The physical floor of a preset's sweep: the arithmetic its jobs must do, divided by the
arithmetic this machine's convolutions can do per second.

FLOPs are those of ``torch.utils.flop_counter`` (convolutions and matrix products, forward and
backward; element-wise work is not counted, so the floor is a lower bound). A packed job's K
members do K times one member's arithmetic (grouped convolutions), so each member is counted
as a model of its own. The machine's rate is measured on the grid's largest model at a large
batch, the most favourable shape the grid has: the floor is the time the sweep would take if
every step ran at that rate, with no optimizer, Python, logging or start-up cost.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from biaslab.config.compose import compose_job, sweep_jobs
from biaslab.models.build import build_model
from biaslab.models.params import count_params
from biaslab.records.results import find_results, read_results


def step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, train: bool) -> int:
    """FLOPs of one forward pass (and its backward when ``train``) on the batch ``x``."""
    model.train(train)
    with FlopCounterMode(display=False) as mode, torch.set_grad_enabled(train):
        loss = F.cross_entropy(model(x), y)
        if train:
            loss.backward()
    model.zero_grad(set_to_none=True)
    return int(mode.get_total_flops())


def _batch(shape: Sequence[int], classes: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g)


def job_flops(cfg: DictConfig) -> dict:
    """One job's training and evaluation FLOPs, every member counted."""
    data = instantiate(cfg.data)
    spec, splits = data.spec, data.prepare_splits()
    model = build_model(cfg.model, spec.input_shape, spec.num_classes)
    batch = int(cfg.data.batch_size)
    x, y = _batch(spec.input_shape, spec.num_classes, batch)
    steps = int(cfg.trainer.max_steps)
    members = int(cfg.train.parallel_seeds)
    interval = cfg.trainer.val_check_interval
    checks = steps // int(interval) if isinstance(interval, int) and interval > 0 else 1
    evaluated = checks * len(splits["val"][1]) + len(splits["test"][1])
    per_sample_eval = step_flops(model, x, y, train=False) / batch
    return {
        "model": model,
        "spec": spec,
        "members": members,
        "train_flops": members * steps * step_flops(model, x, y, train=True),
        "eval_flops": members * evaluated * per_sample_eval,
        "params": count_params(model)["params/total"],
    }


def conv_rate(model: torch.nn.Module, spec, batch: int, repeats: int) -> dict:
    """Forward + backward FLOP/s of ``model`` at ``batch``: the fastest of ``repeats`` timed
    passes after two warm-up passes (a floor takes the machine at its best; another process
    on the cores only ever slows a pass down)."""
    x, y = _batch(spec.input_shape, spec.num_classes, batch)
    flops = step_flops(model, x, y, train=True)
    times = []
    for i in range(repeats + 2):
        t0 = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        model.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    seconds = min(times)
    return {
        "batch": batch,
        "flops_per_pass": flops,
        "s_per_pass": seconds,
        "flops_per_s": flops / seconds,
    }


def measured_time(runs: Path) -> dict:
    """The sweep's own time from its records: one ``timing.total_s`` per job (a packed job's
    members share theirs), summed; completed jobs only."""
    per_job: dict[Path, float] = {}
    for f in find_results(runs):
        record = read_results(f)
        if record["status"] != "completed":
            continue
        job = f.parent.parent if f.parent.name.startswith("seed=") else f.parent
        per_job[job] = float(record["timing"]["total_s"])
    return {
        "jobs": len(per_job),
        "total_s": sum(per_job.values()),
        "per_job_s": {job.name: s for job, s in per_job.items()},  # the sweep's job numbers
    }


def _shape_label(job: dict) -> str:
    """The job's overrides that change its arithmetic (model, data, steps), not lr or seed."""
    keys = ("model.", "data.", "trainer.", "train.")
    return " ".join(f"{k}={v}" for k, v in job.items() if k.startswith(keys)) or "(all)"


def sweep_floor(
    preset: str,
    overrides: Sequence[str],
    work: Path,
    batch: int = 2000,
    repeats: int = 10,
    runs: Path | None = None,
) -> dict:
    """FLOPs of every job of ``python train.py -m +experiment=PRESET OVERRIDES``, the machine's
    rate on the grid's largest model, the floor, and (with ``runs``) the measured time.
    ``overrides`` reach every job (``paths.data_dir=...`` too); ``work`` takes the jobs'
    output directories, which nothing writes to."""
    jobs, cache = [], {}
    for i, job in enumerate(sweep_jobs(preset, overrides)):
        args = [f"{k}={v}" for k, v in job.items()]
        cfg = compose_job([f"+experiment={preset}", *args], work / str(i))
        shape = (
            str(cfg.model),
            str(cfg.data),
            int(cfg.trainer.max_steps),
            int(cfg.train.parallel_seeds),
        )
        if shape not in cache:  # the lr and the seed do not change the arithmetic
            cache[shape] = job_flops(cfg)
        jobs.append((job, cache[shape]))
    largest = max(cache.values(), key=lambda j: j["params"])
    rate = conv_rate(largest["model"], largest["spec"], batch, repeats)
    train = sum(j["train_flops"] for _, j in jobs)
    evaluation = sum(j["eval_flops"] for _, j in jobs)
    result = {
        "preset": preset,
        "overrides": list(overrides),
        "jobs": len(jobs),
        "runs": sum(j["members"] for _, j in jobs),
        "train_flops": train,
        "eval_flops": evaluation,
        "rate": rate,
        "floor_s": (train + evaluation) / rate["flops_per_s"],
        "threads": torch.get_num_threads(),
    }
    measured = measured_time(runs) if runs is not None else None
    shapes: dict[str, dict] = {}
    for i, (job, j) in enumerate(jobs):
        row = shapes.setdefault(_shape_label(job), {"jobs": 0, "floor_s": 0.0, "measured": []})
        row["jobs"] += 1
        row["floor_s"] += (j["train_flops"] + j["eval_flops"]) / rate["flops_per_s"]
        if measured and str(i) in measured["per_job_s"]:
            row["measured"].append(measured["per_job_s"][str(i)])
    result["shapes"] = shapes
    if measured is not None:
        result["measured"] = measured | {"over_floor": measured["total_s"] / result["floor_s"]}
    return result


def print_floor(r: dict) -> None:
    rate = r["rate"]
    print(
        f"{r['preset']} {' '.join(r['overrides'])}: {r['jobs']} jobs, {r['runs']} runs; "
        f"training {r['train_flops'] / 1e12:.2f} TFLOP, evaluation "
        f"{r['eval_flops'] / 1e12:.3f} TFLOP\n"
        f"machine: {rate['flops_per_s'] / 1e9:.1f} GFLOP/s (largest model, batch "
        f"{rate['batch']}, forward+backward, {r['threads']} threads)\n"
        f"floor: {r['floor_s'] / 60:.1f} min"
    )
    for label, row in r["shapes"].items():
        done = row["measured"]
        took = f", measured {sum(done):.0f} s over {len(done)} jobs" if done else ""
        print(f"  {label}: {row['jobs']} jobs, floor {row['floor_s']:.0f} s{took}")
    if "measured" in r:
        m = r["measured"]
        print(
            f"measured: {m['total_s'] / 60:.1f} min over {m['jobs']} completed jobs "
            f"({m['over_floor']:.1f}× the floor)"
        )
