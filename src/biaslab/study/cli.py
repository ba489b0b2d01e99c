"""``python -m biaslab.study plan|run|report``: write a plan, run (or resume) it, report it."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from biaslab.study import preset, report, run, verdicts
from biaslab.study.plan import PlanError, write


def _plan_parser(sub) -> None:
    p = sub.add_parser("plan", help="write DIR/plan.yaml before any run")
    p.add_argument("experiment_arg", metavar="+experiment=NAME")
    p.add_argument("overrides", nargs="*", help="overrides; a swept key (a,b) sets a cell axis")
    p.add_argument("--out", required=True, help="the study's folder")
    p.add_argument("--name")
    p.add_argument("--compare", default="model.bias")
    p.add_argument("--arms", help="the two compared values, first,second (first: 'helps')")
    p.add_argument("--tune", default="optimizer.lr", help="key tuned in stage 1 (none: no stage 1)")
    p.add_argument("--grid", help="its values (default: the preset's sweep of it)")
    p.add_argument("--select-by", default="val/acc_best")
    p.add_argument("--metric", default="test/acc")
    p.add_argument("--direction", choices=["max", "min"])
    p.add_argument("--scale", choices=["linear", "log"], default="linear")
    p.add_argument("--delta", type=float, help="margin (a ratio > 1 with --scale log)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=3, help="seeds per batch, packed in one job")
    p.add_argument(
        "--no-pack",
        dest="pack",
        action="store_false",
        help="one job per seed (default: packed where the preset packs seeds)",
    )
    p.add_argument("--cap", type=int, default=30, help="seeds per cell at most")
    p.add_argument("--budget", type=int, help="runs at most (default: every look of every cell)")
    p.add_argument("--tuning-seed", type=int, default=100)
    p.add_argument("--tuning-packs", type=int, default=1)
    p.add_argument("--confirm-seed", type=int, default=1000)
    p.add_argument("--fail-metric", default="val/acc")
    p.add_argument("--fail-at-most", type=float)
    p.add_argument("--launcher", help="Hydra launcher overrides, e.g. 'hydra/launcher=joblib'")
    p.add_argument("--logger", default="none")
    p.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS of every job (default: the caller's)"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m biaslab.study", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _plan_parser(sub)
    sub.add_parser("run", help="run or resume the study in DIR").add_argument("dir")
    r = sub.add_parser("report", help="write DIR/report.md and DIR/verdicts.json")
    r.add_argument("dir")
    return p


def _plan(args: argparse.Namespace) -> None:
    if not args.experiment_arg.startswith("+experiment="):
        raise PlanError(f"{args.experiment_arg}: the first argument is +experiment=NAME")
    args.experiment = args.experiment_arg.split("=", 1)[1]
    plan = preset.from_args(args)
    h = write(plan, Path(args.out))
    print(f"{Path(args.out) / 'plan.yaml'}: plan {h}, {plan.m} cells, budget {plan.budget} runs")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "plan":
            _plan(args)
        elif args.command == "run":
            run.run(Path(args.dir))
            args.command = "report"
        if args.command == "report":
            text = report.write(Path(args.dir))  # report.md, and its figure where measured
            verdicts.write(Path(args.dir))  # for the answer page (make answer)
            print(text)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "plan"
        msg = str(err["msg"]).removeprefix("Value error, ")  # a PlanError raised in the model
        print(f"error: {msg}" if where == "plan" else f"error: {where}: {msg}", file=sys.stderr)
        return 2
    except PlanError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
