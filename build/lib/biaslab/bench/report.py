"""bench.json (where and how it was measured, then the figures) and the tables printed after
a run of the throughput benchmark."""

from __future__ import annotations

import json
import os
import platform
import sys
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
        t.add_row("logger (vs logger=none)", f"{o['logger_s']:.3f}", "")
        console.print(t)
    if report.get("e2e"):
        e = report["e2e"]
        console.print(
            f"python {e['command']}: {e['wall_s']:.1f} s wall, test/acc {e['test/acc']:.4f}, "
            f"train() {e['train_fn_s']:.1f} s (fit {e['fit_s']:.1f} s), "
            f"{e['outside_train_fn_s']:.1f} s outside train()"
        )
