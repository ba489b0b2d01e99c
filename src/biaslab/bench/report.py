"""bench.json (where and how it was measured, then the figures) and the tables printed after
a run of the throughput benchmark."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import torch


def device_info() -> dict:
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


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "lightning", "wandb", "hydra-core", "torchmetrics"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_report(out: str | Path, settings: dict, body: dict) -> dict:
    """The JSON report at ``out``: device, versions and ``settings``, then ``body``."""
    report = {"device": device_info(), "versions": versions(), "settings": settings, **body}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2) + "\n")
    return report


def console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a pipe or log file: 80 columns would truncate the figures
        console = Console(width=140)
    return console


def spread(values: list[float], fmt: str = ".2f") -> str:
    return f"{min(values):{fmt}}-{max(values):{fmt}}"


def table(title: str, rows: list[dict], columns: dict[str, Callable[[dict], str]]):
    """A rich table of ``rows``, one column per ``columns`` entry (its header: how a row shows
    in it); the first column left-aligned, the figures right-aligned."""
    from rich.table import Table

    t = Table(title=title)
    for i, col in enumerate(columns):
        t.add_column(col, justify="right" if i else "left", no_wrap=True)
    for row in rows:
        t.add_row(*(show(row) for show in columns.values()))
    return t


# the case, its bias arm and batch size: the first columns of every throughput table
CASE: dict[str, Callable[[dict], str]] = {
    "case": lambda c: c["case"],
    "bias": lambda c: str(c["bias"]).lower(),
    "batch": lambda c: str(c["batch_size"]),
}


def print_report(report: dict) -> None:
    from rich.table import Table

    out = console()
    columns = {
        **CASE,
        "project": lambda c: f"{c['project']['samples_per_s']:,.0f}",
        "raw": lambda c: f"{c['raw']['samples_per_s']:,.0f}",
        "project/raw": lambda c: f"{c['ratio']:.2f}",
        # the spread of the per-round ratios: wide means the load changed under the run
        "rounds": lambda c: spread(c["ratio_per_round"]),
        "+ms/step": lambda c: f"{c['extra_ms_per_step']:.2f}",
        "load": lambda c: f"{max(c['loadavg']):.1f}",
    }
    title = f"throughput on {report['device']['name']} (samples/s, median)"
    out.print(table(title, report["cases"], columns))
    if report.get("overhead"):
        o = report["overhead"]
        t = Table(title=f"fixed cost per job (median of {o['jobs']}, {o['steps_per_job']} steps)")
        t.add_column("segment")
        t.add_column("median s", justify="right")
        t.add_column("first job s", justify="right")
        for k, v in o["median"].items():
            if k != "steps":
                t.add_row(k, f"{v:.3f}", f"{o['first_job'][k]:.3f}")
        t.add_row("logger (vs logger=none)", f"{o['logger_s']:.3f}", "")
        out.print(t)
    if report.get("e2e"):
        e = report["e2e"]
        out.print(
            f"python {e['command']}: {e['wall_s']:.1f} s wall, test/acc {e['test/acc']:.4f}, "
            f"train() {e['train_fn_s']:.1f} s (fit {e['fit_s']:.1f} s), "
            f"{e['outside_train_fn_s']:.1f} s outside train()"
        )
