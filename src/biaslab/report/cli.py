"""``python -m biaslab.report``: parse the command line, build the report, write it."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from biaslab.report.analysis import Report, build_report
from biaslab.report.load import load_files, load_wandb, sweep_commands
from biaslab.report.plots import make_plots
from biaslab.report.render import print_table, render_markdown, write_csv


def write_outputs(rep: Report, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    make_plots(rep, out)
    write_csv(rep, out / "summary.csv")
    path = out / "report.md"
    path.write_text(render_markdown(rep))
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m biaslab.report",
        description="Does the compared config value change the metric? A paired t-test over "
        "seeds for every group of the other swept keys.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="multirun folders, results.json files or glob patterns",
    )
    p.add_argument("--compare", default="model.bias", help="config key compared (model.bias)")
    p.add_argument("--metric", default="test/acc", help="metric to compare (test/acc)")
    p.add_argument(
        "--baseline",
        help="value the others are compared to (default: false for "
        "booleans, else the first value in sorted order)",
    )
    p.add_argument(
        "--out", help="output folder (default: the first PATH if it is a folder, else ./report)"
    )
    p.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read runs from W&B instead")
    p.add_argument("--group", help="W&B group to read (with --wandb)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not args.paths and not args.wandb:
        parser.error("give at least one PATH or --wandb ENTITY/PROJECT")
    if args.group and not args.wandb:
        parser.error("--group needs --wandb")
    runs = load_files(args.paths) if args.paths else []
    if args.wandb:
        runs += load_wandb(args.wandb, args.group)
    if not runs:
        parser.error("no runs found in " + (" ".join(args.paths) or args.wandb))
    if args.out:
        out = Path(args.out)
    elif args.paths and Path(args.paths[0]).is_dir():
        out = Path(args.paths[0])
    else:
        out = Path("report")
    try:
        rep = build_report(
            runs,
            args.compare,
            args.metric,
            args.baseline,
            command=shlex.join(["python", "-m", "biaslab.report", *argv]),
        )
        rep.sweeps = sweep_commands(args.paths)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = write_outputs(rep, out)
    print_table(rep)
    print(f"report: {path}")
    return 0
