"""The GPU figures in one call: ``scripts/gpu_check.sh`` (which installs the missing wheels
first) or ``python -m biaslab.bench.gpu_check``.

1. ``throughput``: the bench's 2-D cases (VGG-style, widths 8/32/128, with and without bias)
   at batch 512, bf16 autocast (``trainer=gpu``), batches in channels_last: project/raw;
2. ``parallel_seeds``: one ``train.parallel_seeds=16`` job at width 8 against 16 single runs
   (goal: ≥ 6× the model-samples/s);
3. ``default_run``: ``python train.py trainer=gpu`` end to end (wall time, test/acc).

Writes ``<out>.json`` (every figure, the card's name, versions, load) and ``<out>.md`` (the
tables for docs/performance.md). ``--dry-run`` runs the same three parts on the CPU with tiny
budgets (a few steps each): a test of the script, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

import torch

from biaslab.bench.cli import main as bench_main
from biaslab.bench.report import device_info, versions
from biaslab.config.compose import ROOT
from biaslab.records.results import read_results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m biaslab.bench.gpu_check", description=__doc__)
    p.add_argument("--out", default="gpu_check", help="writes OUT.json and OUT.md")
    p.add_argument("--dry-run", action="store_true", help="CPU, a few steps each: tests the script")
    p.add_argument("--k", type=int, default=16, help="seeds packed in the seed-parallel job")
    p.add_argument("--rounds", type=int, default=2, help="raw/project alternations per case")
    p.add_argument("--data-dir", help="paths.data_dir (MNIST-1D cache)")
    p.add_argument("--skip", nargs="*", default=[], choices=("throughput", "seeds", "default"))
    return p.parse_args(argv)


def logger_override() -> str:
    # the GPU machine may lack W&B (fetch-wheels.sh without --wandb): CSV needs nothing
    return "logger=wandb" if find_spec("wandb") else "logger=csv"


def default_run(work: Path, trainer: str, data_dir: str | None, steps: int | None) -> dict:
    """``python train.py trainer=<trainer>`` as a user starts it, in a scratch folder."""
    run_dir = work / "default-run"
    cmd = [sys.executable, "train.py", f"trainer={trainer}", logger_override()]
    cmd.append(f"hydra.run.dir={run_dir}")
    if data_dir:
        cmd.append(f"paths.data_dir={data_dir}")
    if steps:
        cmd += [f"trainer.max_steps={steps}", f"trainer.val_check_interval={steps}"]
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"command": " ".join(cmd[1:]), "error": proc.stderr[-3000:]}
    rec = read_results(run_dir)
    return {
        "command": " ".join(cmd[1:]),
        "wall_s": wall,
        "test/acc": rec["metrics"].get("test/acc"),
        "steps": rec["metrics"].get("steps"),
        "train_fn_s": rec["timing"]["total_s"],
        "fit_s": rec["timing"]["fit_s"],
        "device": rec.get("device"),
    }


def _guarded(name: str, fn) -> dict:
    """One part's figures, or its error: a failing part must not cost the others' figures
    (the GPU time is short)."""
    t0 = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - recorded in the report, the next part runs
        out = {"error": f"{type(e).__name__}: {e}"}
    out["part_s"] = time.perf_counter() - t0
    print(f"gpu_check: {name} done in {out['part_s']:.0f} s", flush=True)
    return out


def run(args: argparse.Namespace) -> dict:
    gpu = torch.cuda.is_available()
    if not gpu and not args.dry_run:
        raise SystemExit("gpu_check: no CUDA device visible (use --dry-run to test the script)")
    trainer = "gpu" if gpu else "cpu"
    dry = args.dry_run
    data = [f"--data-dir={args.data_dir}"] if args.data_dir else []
    common = [*data, "--override", f"trainer={trainer}", "--override", logger_override()]
    k = 2 if dry else args.k
    report: dict = {
        "device": device_info(),
        "versions": versions(),
        "dry_run": dry,
        "loadavg_start": os.getloadavg(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with tempfile.TemporaryDirectory(prefix="biaslab-gpu-check-") as tmp:
        work = Path(tmp)
        if "throughput" not in args.skip:
            argv = [
                *common,
                "--cases",
                *(["cnn2d-w8"] if dry else ["cnn2d-w8", "cnn2d-w32", "cnn2d-w128"]),
                "--channels-last",
                "--jobs",
                "0",
                "--out",
                str(work / "throughput.json"),
                *(["--quick"] if dry else ["--batch-size", "512", "--rounds", str(args.rounds)]),
            ]
            report["throughput"] = _guarded("throughput", lambda: bench_main(argv))
        if "seeds" not in args.skip:
            argv = [
                *common,
                "--parallel-seeds",
                str(k),
                "--out",
                str(work / "seeds.json"),
                *(["--quick"] if dry else ["--rounds", str(args.rounds)]),
                *([] if dry else ["--parallel-steps", "300"]),
            ]
            report["parallel_seeds"] = _guarded("seeds", lambda: bench_main(argv))
        if "default" not in args.skip:
            steps = 20 if dry else None
            report["default_run"] = _guarded(
                "default run", lambda: default_run(work, trainer, args.data_dir, steps)
            )
    report["loadavg_end"] = os.getloadavg()
    return report


def markdown(report: dict) -> str:
    d, v = report["device"], report["versions"]
    kind = "dry run on the CPU: not a measurement" if report["dry_run"] else d["type"]
    lines = [
        f"## {d['name']} ({kind})",
        "",
        f"torch {v.get('torch')}, lightning {v.get('lightning')}, started {report['started']}, "
        f"load {report['loadavg_start'][0]:.1f}-{report['loadavg_end'][0]:.1f}. "
        "Command: `scripts/gpu_check.sh`.",
        "",
    ]
    t = report.get("throughput")
    if t and "cases" in t:
        lines += [
            "| case | bias | batch | precision | project /s | raw /s | project/raw | +ms/step |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in t["cases"]:
            lines.append(
                f"| {c['case']} | {str(c['bias']).lower()} | {c['batch_size']} | "
                f"{c['precision']}, channels_last | {c['project']['samples_per_s']:,.0f} | "
                f"{c['raw']['samples_per_s']:,.0f} | {c['ratio']:.2f} | "
                f"{c['extra_ms_per_step']:.2f} |"
            )
        lines.append("")
    elif t:
        lines += [f"throughput: {t.get('error')}", ""]
    s = report.get("parallel_seeds")
    if s and "parallel_seeds" in s:
        r = s["parallel_seeds"]
        lines.append(
            f"Seed-parallel, width 8, K={r['k']} ({r['precision']}, batch {r['batch_size']}): "
            f"{r['packed']['model_samples_per_s']:,.0f} model-samples/s packed against "
            f"{r['single']['model_samples_per_s']:,.0f} for single runs: **{r['ratio']:.2f}×** "
            f"(goal ≥ 6×); wall of {r['k']} × {r['wall']['steps']} steps "
            f"{r['wall']['sequential_s']:.1f} s → {r['wall']['packed_s']:.1f} s."
        )
        lines.append("")
    elif s:
        lines += [f"seed-parallel: {s.get('error')}", ""]
    e = report.get("default_run")
    if e and "wall_s" in e:
        lines.append(
            f"`python {e['command']}`: {e['wall_s']:.1f} s wall, test/acc {e['test/acc']:.4f}, "
            f"{e['steps']} steps, train() {e['train_fn_s']:.1f} s (fit {e['fit_s']:.1f} s), "
            f"device {e['device']}."
        )
    elif e:
        lines.append(f"default run: {e.get('error')}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    report = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    md = markdown(report)
    out.with_suffix(".md").write_text(md)
    print(md)
    return report


if __name__ == "__main__":
    main()
