"""What the project's Lightning path costs: training throughput against a hand-written PyTorch
loop on the same model, data, optimizer and precision; the fixed cost of one job of a
multirun; and optionally the wall time of the default ``python train.py``.

    python -m biaslab.bench [--quick] [--e2e] [--out bench.json] [--cases mnist1d cnn2d-w32]

Throughput is samples/s over timed windows after warm-up steps; the raw loop and the project
path take turns (raw, project, raw, project, ...) so that load from other processes hits both.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

import biaslab.train as train_module
from biaslab import tracking
from biaslab.data.base import TensorDataModule
from biaslab.models.build import build_model
from biaslab.results import read_results

ROOT = Path(__file__).resolve().parents[2]  # the checkout: conf/ and train.py live here
CNN2D_WIDTHS = (8, 32, 128)
CASES = ("mnist1d", *(f"cnn2d-w{w}" for w in CNN2D_WIDTHS))


# -- data ----------------------------------------------------------------------------------
class SyntheticImages(TensorDataModule):
    """Random 3×32×32 images with random labels from a fixed seed: only throughput matters
    here, and random tensors cost nothing to make or cache."""

    def __init__(
        self,
        num_samples: int = 4096,
        test_samples: int = 512,
        shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_samples, self.test_samples = int(num_samples), int(test_samples)
        self.shape, self.num_classes = tuple(int(s) for s in shape), int(num_classes)

    def load(self):
        g = torch.Generator().manual_seed(self.seed)
        n = self.num_samples + self.test_samples
        x = torch.randn(n, *self.shape, generator=g)
        y = torch.randint(0, self.num_classes, (n,), generator=g)
        k = self.num_samples
        return x[:k], y[:k], x[k:], y[k:]


# -- config --------------------------------------------------------------------------------
def compose_cfg(
    overrides: list[str], output_dir: Path, conf_dir: Path, data: dict | None = None
) -> DictConfig:
    """The real config from ``conf_dir`` as a Hydra job would see it (HydraConfig set, so the
    W&B run is named after the overrides), written to ``output_dir``; ``data`` replaces the
    data node (the synthetic images are no config group of the project)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
        if data is not None:
            cfg.data = OmegaConf.create(data)
    return cfg


@dataclass
class Case:
    name: str
    bias: bool
    overrides: list[str]
    data: dict | None = None  # replaces cfg.data; None keeps the composed one
    batch_size: int | None = None  # None: the config's


def make_cases(names: list[str], batch_size: int, samples: int, data_dir: str | None) -> list:
    cases = []
    for name in names:
        for bias in (True, False):
            b = str(bias).lower()
            if name == "mnist1d":
                cases.append(Case(name, bias, [f"model.bias={b}"]))
                continue
            width = int(name.removeprefix("cnn2d-w"))
            data = {
                "_target_": f"{__name__}.SyntheticImages",
                "batch_size": batch_size,
                "num_samples": samples,
                "test_samples": 2 * batch_size,  # train() tests after fit: keep that short
                "seed": 42,
                "shuffle_seed": 0,
                "data_dir": data_dir or "data",
            }
            # VGG-style: 3 stages of width×(1, 2, 4) channels, 3×3 convs, 2× max-pool, BN.
            model = [
                "model=cnn",
                f"model.width={width}",
                "model.depth=3",
                "model.width_mult=2",
                "model.kernel_size=3",
                "model.stride=1",
                "model.padding=1",
                "model.pool=max",
                "model.global_pool=true",
                "model.norm=batch",
                f"model.bias={b}",
            ]
            cases.append(Case(name, bias, model, data, batch_size))
    return cases


# -- timing --------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    # CUDA kernels run asynchronously: without a sync a timestamp measures the launch queue.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Windows:
    """Timestamps after given step counts; the raw loop and the callback share it so both
    paths are measured by the same code."""

    def __init__(self, warmup: int, window: int, windows: int, device: torch.device):
        self.marks = {warmup + i * window for i in range(windows + 1)}
        self.device = device
        self.steps = self.samples = 0
        self.stamps: list[tuple[float, int]] = []  # (time, samples so far)

    @property
    def total_steps(self) -> int:
        return max(self.marks)

    def step(self, batch_len: int) -> None:
        self.steps += 1
        self.samples += batch_len
        if self.steps in self.marks:
            _sync(self.device)
            self.stamps.append((time.perf_counter(), self.samples))

    def rates(self) -> list[float]:
        """Samples/s of each window."""
        pairs = zip(self.stamps, self.stamps[1:], strict=False)
        return [(s1 - s0) / (t1 - t0) for (t0, s0), (t1, s1) in pairs]


class WindowClock(Callback):
    def __init__(self, windows: Windows):
        self.windows = windows

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.windows.step(len(batch[1]))


class JobClock(Callback):
    """When a job's first and last training step and its test start and end."""

    def __init__(self):
        self.t: dict[str, float] = {}

    def _stamp(self, name: str, trainer, first_only: bool = False) -> None:
        if first_only and name in self.t:
            return
        _sync(trainer.strategy.root_device)
        self.t[name] = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._stamp("first_step", trainer, first_only=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._stamp("last_step", trainer)

    def on_test_start(self, trainer, pl_module):
        self._stamp("test_start", trainer)

    def on_test_end(self, trainer, pl_module):
        self._stamp("test_end", trainer)


@contextmanager
def extra_callbacks(*callbacks: Callback):
    """Add callbacks to the Trainer that :func:`biaslab.train.train` builds. train() takes none
    from its caller, so wrap the ``instantiate`` it calls and append ours to the callbacks it
    passes (it passes its own, which would replace any given in the trainer config)."""
    original = train_module.instantiate

    def wrapper(config, *args, **kwargs):
        if isinstance(config, DictConfig) and str(config.get("_target_", "")).endswith("Trainer"):
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *callbacks]
        return original(config, *args, **kwargs)

    with mock.patch.object(train_module, "instantiate", wrapper):
        yield


# -- the two training paths ----------------------------------------------------------------
def raw_device(cfg: DictConfig) -> torch.device:
    """The device Lightning would pick for ``cfg.trainer.accelerator``."""
    wants_gpu = cfg.trainer.accelerator in ("auto", "gpu", "cuda")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def _batches(x, y, batch_size: int, seed: int, device) -> Iterator[tuple]:
    """TensorBatches' order without Lightning: index slices of a per-epoch randperm."""
    n, epoch = len(x), 0
    while True:
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n, generator=g).to(device)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]
        epoch += 1


def _precision(precision: str, device: torch.device):
    """(autocast context factory, grad scaler or None, input dtype) for a Lightning precision."""
    if precision == "32-true":
        return nullcontext, None, torch.float32
    if precision == "64-true":
        return nullcontext, None, torch.float64
    if precision in ("bf16-mixed", "16-mixed"):
        dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16
        scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
        return (lambda: torch.autocast(device.type, dtype=dtype)), scaler, torch.float32
    raise ValueError(f"raw loop: precision {precision!r} is not supported")


def run_raw(cfg: DictConfig, data: TensorDataModule, windows: Windows) -> None:
    device = windows.device
    torch.manual_seed(cfg.seed)
    spec = data.spec
    model = build_model(cfg.model, spec.input_shape, spec.num_classes)
    autocast, scaler, dtype = _precision(str(cfg.trainer.precision), device)
    model = model.to(device=device, dtype=dtype)
    optimizer = instantiate(cfg.optimizer)(model.parameters())
    scheduler = instantiate(cfg.scheduler)(optimizer) if "_target_" in cfg.scheduler else None
    x, y = data.prepare_splits()["train"]
    x, y = x.to(device=device, dtype=dtype), y.to(device)
    batches = _batches(x, y, data.batch_size, data.shuffle_seed, device)
    model.train()
    for _ in range(windows.total_steps):
        xb, yb = next(batches)
        with autocast():
            loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        if scheduler is not None:
            scheduler.step()
        windows.step(len(yb))


def run_project(cfg: DictConfig, windows: Windows, extra: tuple[Callback, ...] = ()) -> None:
    """The project's run path itself: biaslab.train.train(cfg) (data module, task, W&B logger,
    Trainer from cfg.trainer, its own callbacks, fit, test, results.json), with the timing
    callback added. The caller's config switches validation off."""
    with extra_callbacks(WindowClock(windows), *extra):
        train_module.train(cfg)


# -- throughput ----------------------------------------------------------------------------
@dataclass
class Plan:
    rounds: int = 3
    windows_per_round: int = 2
    window_s: float = 1.5
    warmup_s: float = 0.5
    min_warmup: int = 5
    fixed_steps: tuple[int, int] | None = None  # (warmup, window): skip the calibration
    notes: list[str] = field(default_factory=list)


def _steps_for(seconds: float, step_s: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, math.ceil(seconds / step_s))))


def bench_case(case: Case, conf_dir: Path, work: Path, base: list[str], plan: Plan) -> dict:
    # Validation would land inside some windows and not others: off for both paths.
    overrides = [*base, *case.overrides, "++trainer.limit_val_batches=0"]
    cfg = compose_cfg(overrides, work / f"{case.name}-{case.bias}", conf_dir, case.data)
    device = raw_device(cfg)
    data = instantiate(cfg.data)
    data.prepare_splits()

    if plan.fixed_steps:
        warmup, window = plan.fixed_steps
    else:
        # Size the windows from the raw loop's step time: long enough to average over noise,
        # short enough that the wide 2-D nets finish on a 2-core CPU.
        probe = Windows(2, 3, 1, device)
        run_raw(cfg, data, probe)
        step_s = data.batch_size / probe.rates()[0]
        warmup = _steps_for(plan.warmup_s, step_s, plan.min_warmup, 500)
        window = _steps_for(plan.window_s, step_s, 3, 20_000)

    rates: dict[str, list[float]] = {"raw": [], "project": []}
    paired = []  # project/raw within one round: the two ran seconds apart, under similar load
    load = [os.getloadavg()[0]]
    with open_dict(cfg):
        cfg.trainer.max_steps = warmup + plan.windows_per_round * window
    for _ in range(plan.rounds):
        for path in ("raw", "project"):
            w = Windows(warmup, window, plan.windows_per_round, device)
            run_raw(cfg, data, w) if path == "raw" else run_project(cfg, w)
            rates[path] += w.rates()
        k = plan.windows_per_round
        paired.append(
            statistics.median(rates["project"][-k:]) / statistics.median(rates["raw"][-k:])
        )
        load.append(os.getloadavg()[0])

    med = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "case": case.name,
        "bias": case.bias,
        "device": str(device),
        "batch_size": int(data.batch_size),
        "train_samples": len(data.splits["train"][0]),
        "precision": str(cfg.trainer.precision),
        "warmup_steps": warmup,
        "window_steps": window,
        "overrides": case.overrides,
        "project": {"samples_per_s": med["project"], "windows": rates["project"]},
        "raw": {"samples_per_s": med["raw"], "windows": rates["raw"]},
        "ratio": med["project"] / med["raw"],
        # the project's extra time per step: nearly constant, so it matters for small models
        "extra_ms_per_step": 1e3 * data.batch_size * (1 / med["project"] - 1 / med["raw"]),
        "ratio_per_round": paired,
        # 1-min load average around the rounds; above the core count, other processes were
        # competing for the CPU and the figures are noisier
        "loadavg": load,
    }


# -- fixed cost of a job -------------------------------------------------------------------
@contextmanager
def _timed(target: Any, name: str, into: dict[str, float], key: str):
    """Patch ``target.name`` with a wrapper recording its start and end in ``into``."""
    original = getattr(target, name)

    def wrapper(*args, **kwargs):
        into[key + "_start"] = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[key + "_end"] = time.perf_counter()

    with mock.patch.object(target, name, wrapper):
        yield


def job_overhead(conf_dir: Path, work: Path, base: list[str], jobs: int, steps: int) -> dict:
    """Run ``jobs`` tiny jobs through the unchanged train(cfg), one process, like a multirun.

    Timestamps: JobClock (a callback added to the Trainer that train() builds, see
    :func:`extra_callbacks`) for the first and last training step and the test; wrappers
    around tracking.make_logger, write_results and tracking.finish for the logger start, the
    results.json write and the W&B close.
    """
    per_job = []
    for j in range(jobs):
        t: dict[str, float] = {}
        t["compose_start"] = time.perf_counter()
        cfg = compose_cfg([*base, f"trainer.max_steps={steps}"], work / f"job{j}", conf_dir)
        clock = JobClock()
        t["call"] = time.perf_counter()
        with ExitStack() as stack:
            stack.enter_context(extra_callbacks(clock))
            stack.enter_context(_timed(tracking, "make_logger", t, "logger"))
            stack.enter_context(_timed(train_module, "write_results", t, "results"))
            stack.enter_context(_timed(tracking, "finish", t, "finish"))
            out = train_module.train(cfg)
        t["return"] = time.perf_counter()
        c = clock.t
        loop = c["last_step"] - c["first_step"]
        per_job.append(
            {
                "compose_s": t["call"] - t["compose_start"],
                "start_to_first_step_s": c["first_step"] - t["call"],
                "logger_init_s": t["logger_end"] - t["logger_start"],
                "train_loop_s": loop,
                "last_step_to_results_s": t["results_end"] - c["last_step"],
                "test_s": c["test_end"] - c["test_start"],
                "results_to_return_s": t["return"] - t["results_end"],
                "wandb_finish_s": t["finish_end"] - t["finish_start"],
                "overhead_s": t["return"] - t["call"] - loop,
                "total_s": t["return"] - t["call"],
                "steps": int(out["metrics"].get("steps", steps)),
            }
        )
    keys = per_job[0].keys()
    return {
        "jobs": jobs,
        "steps_per_job": steps,
        "method": (
            "in-process train(cfg) repeated; first/last step and test from a Lightning "
            "callback added to the Trainer that train() builds (by wrapping its instantiate); "
            "logger start, results.json write and W&B finish timed by wrappers patched around "
            "tracking.make_logger, write_results and tracking.finish; "
            "overhead_s = train() wall time minus first-to-last step"
        ),
        "median": {k: statistics.median(r[k] for r in per_job) for k in keys},
        "first_job": per_job[0],
        "per_job": per_job,
    }


# -- end to end ----------------------------------------------------------------------------
def end_to_end(root: Path, work: Path, data_dir: str | None, threads: int | None) -> dict:
    """``python train.py`` as a subprocess; its output goes to a scratch folder, not outputs/."""
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
        # interpreter start, imports and Hydra's setup: what train() never sees
        "outside_train_fn_s": wall - timing["total_s"],
    }


# -- profile -------------------------------------------------------------------------------
def profile_case(case: Case, conf_dir: Path, work: Path, base: list[str], steps: int) -> str:
    """cProfile of the project path over ``steps`` steps after a warm-up, by own time."""
    cfg = compose_cfg(
        [*base, *case.overrides, "++trainer.limit_val_batches=0"],
        work / "profile",
        conf_dir,
        case.data,
    )
    with open_dict(cfg):
        cfg.trainer.max_steps = 20 + steps
    profiler = cProfile.Profile()

    class Toggle(Callback):  # profile the steady state only, not setup and warm-up
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 20:
                profiler.enable()

        def on_train_end(self, trainer, pl_module):
            profiler.disable()

    run_project(cfg, Windows(20, steps, 1, raw_device(cfg)), extra=(Toggle(),))
    s = io.StringIO()
    stats = pstats.Stats(profiler, stream=s).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)  # where the time is spent
    stats.sort_stats("cumulative").print_stats(40)  # which caller spends it
    return s.getvalue()


# -- report --------------------------------------------------------------------------------
def _device_info() -> dict:
    if torch.cuda.is_available():
        return {"type": "cuda", "name": torch.cuda.get_device_name(0)}
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "type": "cpu",
        "name": name,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }


def _versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "lightning", "wandb", "hydra-core", "torchmetrics"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # a pipe or log file: 80 columns would truncate the figures
        console = Console(width=140)
    table = Table(title=f"throughput on {report['device']['name']} (samples/s, median)")
    cols = ("case", "bias", "batch", "project", "raw", "project/raw", "rounds", "+ms/step")
    for col in (*cols, "load"):
        table.add_column(col, justify="left" if col == "case" else "right", no_wrap=True)
    for c in report["cases"]:
        table.add_row(
            c["case"],
            str(c["bias"]).lower(),
            str(c["batch_size"]),
            f"{c['project']['samples_per_s']:,.0f}",
            f"{c['raw']['samples_per_s']:,.0f}",
            f"{c['ratio']:.2f}",
            # the spread of the per-round ratios: wide means the load changed under the run
            f"{min(c['ratio_per_round']):.2f}-{max(c['ratio_per_round']):.2f}",
            f"{c['extra_ms_per_step']:.2f}",
            f"{max(c['loadavg']):.1f}",
        )
    console.print(table)
    if report.get("overhead"):
        o = report["overhead"]
        t = Table(title=f"fixed cost per job (median of {o['jobs']}, {o['steps_per_job']} steps)")
        t.add_column("segment")
        t.add_column("median s", justify="right")
        t.add_column("first job s", justify="right")
        for k, v in o["median"].items():
            if k != "steps":
                t.add_row(k, f"{v:.3f}", f"{o['first_job'][k]:.3f}")
        console.print(t)
    if report.get("e2e"):
        e = report["e2e"]
        console.print(
            f"python {e['command']}: {e['wall_s']:.1f} s wall, test/acc {e['test/acc']:.4f}, "
            f"train() {e['train_fn_s']:.1f} s (fit {e['fit_s']:.1f} s), "
            f"{e['outside_train_fn_s']:.1f} s outside train()"
        )


# -- entry point ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m biaslab.bench", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="bench.json", help="where to write the JSON report")
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--batch-size", type=int, help="cnn2d batch (default 512 on GPU, 64 on CPU)")
    p.add_argument(
        "--samples", type=int, help="cnn2d train+val samples (default GPU 20000, CPU 4096)"
    )
    p.add_argument("--rounds", type=int, default=3, help="raw/project alternations per case")
    p.add_argument("--windows", type=int, default=2, help="timed windows per run")
    p.add_argument("--window-s", type=float, default=1.5, help="target seconds per window")
    p.add_argument("--jobs", type=int, default=10, help="tiny jobs for the fixed cost")
    p.add_argument("--job-steps", type=int, default=5, help="training steps of each tiny job")
    p.add_argument("--e2e", action="store_true", help="also time `python train.py` (~30 s)")
    p.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    p.add_argument("--profile", metavar="CASE", choices=CASES, help="cProfile the project path")
    p.add_argument("--override", action="append", default=[], help="Hydra override, all runs")
    p.add_argument("--data-dir", help="paths.data_dir (dataset cache)")
    # With other processes on the cores, intra-op threads wait on each other at every op and
    # small models slow down many-fold; 1 thread keeps a shared machine's figures usable.
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--config-dir", default=str(ROOT / "conf"))
    p.add_argument(
        "--parallel-seeds",
        type=int,
        metavar="K",
        help="instead: one train.parallel_seeds=K job vs K single runs (width 8)",
    )
    p.add_argument(
        "--parallel-steps",
        type=int,
        default=1000,
        help="steps of each run in the --parallel-seeds wall-time comparison",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # The default logger is W&B; offline needs no account or network.
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    train_module._quiet_lightning()
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    if args.threads:
        torch.set_num_threads(args.threads)
    conf_dir = Path(args.config_dir).resolve()
    gpu = torch.cuda.is_available()
    batch = args.batch_size or (16 if args.quick else 512 if gpu else 64)
    samples = args.samples or (512 if args.quick else 20_000 if gpu else 4096)
    plan = Plan(rounds=args.rounds, windows_per_round=args.windows, window_s=args.window_s)
    jobs, job_steps = args.jobs, args.job_steps
    if args.quick:
        plan = Plan(rounds=1, windows_per_round=1, fixed_steps=(2, 3))
        jobs, job_steps = 2, 2
    base = [*([f"paths.data_dir={args.data_dir}"] if args.data_dir else []), *args.override]
    if args.parallel_seeds:  # a mode of its own: biaslab.bench_seeds
        from biaslab.bench_seeds import run as bench_seeds

        with tempfile.TemporaryDirectory(prefix="biaslab-bench-") as tmp:
            steps = 20 if args.quick else args.parallel_steps
            return bench_seeds(args, conf_dir, Path(tmp), base, plan, steps)
    cases = make_cases(args.cases, batch, samples, args.data_dir)

    with tempfile.TemporaryDirectory(prefix="biaslab-bench-") as tmp:
        work = Path(tmp)
        if args.profile:
            case = next(c for c in cases if c.name == args.profile and c.bias)
            print(profile_case(case, conf_dir, work, base, steps=20 if args.quick else 300))
        # Jobs first: the first job then pays what the first job of a multirun pays (W&B's
        # service start, Lightning's lazy imports), not a process warmed by the cases.
        overhead = job_overhead(conf_dir, work, base, jobs, job_steps) if jobs > 0 else None
        results = []
        for case in cases:
            results.append(bench_case(case, conf_dir, work, base, plan))
            r = results[-1]
            print(
                f"{r['case']} bias={str(r['bias']).lower()}: project "
                f"{r['project']['samples_per_s']:,.0f}/s, raw {r['raw']['samples_per_s']:,.0f}/s,"
                f" ratio {r['ratio']:.2f}",
                flush=True,
            )
        e2e = end_to_end(ROOT, work, args.data_dir, args.threads) if args.e2e else None
    settings = {
        "torch_threads": torch.get_num_threads(),
        "overrides": base,
        "validation": "off during throughput runs (++trainer.limit_val_batches=0)",
    }
    report = write_report(
        args, plan, settings, {"cases": results, "overhead": overhead, "e2e": e2e}
    )
    print_report(report)
    return report


def write_report(args: argparse.Namespace, plan: Plan, settings: dict, body: dict) -> dict:
    """The JSON report at ``args.out``: where and how it was measured, then ``body``."""
    report = {
        "device": _device_info(),
        "versions": _versions(),
        "settings": {
            "quick": args.quick,
            "rounds": plan.rounds,
            "windows_per_round": plan.windows_per_round,
            "window_s": plan.window_s,
            "wandb_mode": os.environ["WANDB_MODE"],
            **settings,
        },
        **body,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
