"""``python -m biaslab.report``: parse the command line, build the report, write it."""

from __future__ import annotations

import argparse
import difflib
import glob
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from biaslab.records.secrets import redact_override
from biaslab.report.build import Report, ReportOptions, build_report
from biaslab.report.built_bias_figure import built_bias_figure
from biaslab.report.figures import make_plots
from biaslab.report.load import load_files, load_wandb, missing_jobs, sweep_commands
from biaslab.report.render import render_markdown
from biaslab.report.tables import print_table, write_csv
from biaslab.report.values import scale
from biaslab.report.verdict_data import write_verdicts


def write_outputs(rep: Report, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    make_plots(rep, out)
    built = built_bias_figure(out / "built_bias.png", rep)  # only runs that measured it
    if built is not None:
        rep.plots.append(built)
    write_csv(rep, out / "summary.csv")
    write_verdicts(rep, out / "verdicts.json")
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
    _analysis_options(p)
    return p


def _analysis_options(p: argparse.ArgumentParser) -> None:
    """How the runs are tested: margin, chance level, pooling, tuning, interaction."""
    p.add_argument(
        "--margin",
        help="equivalence margin δ, in the units the report shows: percentage points for "
        "accuracy (default 1), raw units otherwise (default 0.05 for *_over_baseline "
        "metrics, none for others)",
    )
    p.add_argument(
        "--classes",
        help="number of classes for the chance level (default: each run's data module's "
        "num_classes)",
    )
    p.add_argument(
        "--pool",
        action="store_true",
        help="pool runs from different sweeps, and repeated (config, seed) runs, as "
        "replications (refused without it)",
    )
    p.add_argument(
        "--select",
        metavar="KEY",
        help="a swept config key tuned per arm (e.g. optimizer.lr): in every group each arm is "
        "compared at its own value of KEY with the best mean --by metric (needs --by)",
    )
    p.add_argument(
        "--by",
        metavar="METRIC",
        help="the validation metric that chooses --select's value (e.g. val/acc_best); the "
        "direction comes from its name; the test set never chooses",
    )
    p.add_argument(
        "--interaction",
        metavar="KEY[=REF]",
        help="does the gain depend on KEY (a swept key, e.g. data.shift=0)? Per seed, the gain "
        "at each value of KEY minus the gain at REF (default: false, else the first value), "
        "tested with its own Holm correction",
    )
    p.add_argument(
        "--allow-modified",
        action="store_true",
        help="use records whose content_sha256 does not match their content (edited after "
        "the run); left out and listed otherwise",
    )
    p.add_argument(
        "--log-wandb",
        action="store_true",
        help="also log the verdict table, summary and plots as one W&B run (job_type=report, "
        "offline unless WANDB_MODE says otherwise)",
    )


def _positive(option: str, text: str | None, kind: type, allowed: str) -> float | int | None:
    """``text`` as a positive ``kind``; ValueError naming the option, value and what is
    allowed otherwise."""
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{option} {text}: {allowed}")
    return value


def _refused_sources(args: argparse.Namespace) -> str | None:
    """Why the sources named cannot be read (one line), or None."""
    if not args.paths and not args.wandb:
        return "give at least one PATH or --wandb ENTITY/PROJECT"
    if args.group and not args.wandb:
        return "--group needs --wandb"
    for p in args.paths:
        if not glob.glob(p, recursive=True) and not Path(p).exists():
            return f"{p}: no such file or folder"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        runs = _runs(args)
        rep = build_report(runs, _options(args, argv))
        rep.sweeps = sweep_commands(args.paths)
        missing = missing_jobs(args.paths)
        why = "multirun.yaml expects it: no results.json"
        rep.problems += [(job, "missing", why) for job, _ in missing]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = _out_dir(args)
    path = write_outputs(rep, out)
    print_table(rep)
    if missing:
        expected = sum({Path(job).parent: n for job, n in missing}.values())
        print(f"{len(missing)} of {expected} jobs missing (no results.json): see {path}")
    if rep.edit_evidence:
        print(rep.edit_evidence)
    print(f"report: {path}")
    if args.log_wandb:
        from biaslab.report.wandb_log import log_report  # W&B's client only on this path

        print(f"W&B report run: {log_report(rep, out, runs)}")
    if not rep.groups:
        print(f"error: no usable run: none completed with a finite {args.metric}", file=sys.stderr)
        return 1
    return 0


def _runs(args: argparse.Namespace) -> list:
    """The runs the sources name; ValueError (one line) when there are none to read."""
    refused = _refused_sources(args)
    if refused:
        raise ValueError(refused)
    runs = load_files(args.paths, args.allow_modified) if args.paths else []
    if args.wandb:
        runs += load_wandb(args.wandb, args.group)
    if not runs:
        where = " ".join(args.paths) or args.wandb
        raise ValueError(f"no runs found in {where}: no results.json under it")
    recorded = sorted({k for r in runs for k in r.metrics})
    if recorded and args.metric not in recorded:
        close = difflib.get_close_matches(args.metric, recorded, n=1)
        hint = f" (did you mean {close[0]}?)" if close else f": one of {', '.join(recorded)}"
        raise ValueError(f"--metric {args.metric} is not recorded by any run{hint}")
    return runs


def _options(args: argparse.Namespace, argv: list[str]) -> ReportOptions:
    margin = _positive(
        "--margin",
        args.margin,
        float,
        "must be a positive number (percentage points for accuracy, raw units otherwise)",
    )
    classes = _positive("--classes", args.classes, int, "must be a whole number ≥ 2")
    if classes is not None and classes < 2:
        raise ValueError(f"--classes {args.classes}: must be a whole number ≥ 2")
    if margin is not None and scale(args.metric) == 100.0:
        margin /= 100.0  # given in percentage points, tested in raw units
    return ReportOptions(
        args.compare,
        args.metric,
        args.baseline,
        command=shlex.join(["python", "-m", "biaslab.report", *map(redact_override, argv)]),
        margin=margin,
        classes=classes,
        pool=args.pool,
        select_key=args.select,
        by=args.by,
        interaction_key=args.interaction,
    )


def _out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    if args.paths and Path(args.paths[0]).is_dir():
        return Path(args.paths[0])
    return Path("report")
