"""A plan from a preset: ``+experiment=NAME`` and overrides, as ``python train.py -m`` reads
them (a swept key given on the command line replaces the preset's values), plus the study's own
options. Seeds already published for the preset's task are refused."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from biaslab.config.compose import ROOT, compose_with_hydra
from biaslab.records.results import find_results
from biaslab.study.plan import Plan, PlanError, c2_for


def split(overrides: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Fixed overrides, and swept ones as key -> values."""
    fixed, swept = [], {}
    for text, o in zip(overrides, OverridesParser.create().parse_overrides(overrides), strict=True):
        if o.is_sweep_override():
            # as typed on a command line: true, not Python's True
            values = [str(v) for v in o.sweep_string_iterator()]
            swept[o.get_key_element()] = [
                v.lower() if v in ("True", "False") else v for v in values
            ]
        else:
            fixed.append(text)
    return fixed, swept


def published_seeds(task_name: str, results: Path = ROOT / "results") -> set[int]:
    """Seeds of every run committed under results/<task_name>*/ (their results.json)."""
    seeds = set()
    for path in find_results(*results.glob(f"{task_name}*")):
        try:
            seed = json.loads(path.read_text()).get("seed")
        except (OSError, ValueError):
            continue
        if isinstance(seed, int):
            seeds.add(seed)
    return seeds


def _pick(swept: dict[str, list[str]], key: str | None, given: str | None, what: str) -> list[str]:
    if key is None:
        return []
    if given:
        swept.pop(key, None)  # the given values replace the preset's sweep of the key
        return given.split(",")
    if key not in swept:
        raise PlanError(f"--{what}: the preset does not sweep {key}; give the values")
    return swept.pop(key)


def _validation_rule(cfg, select_by: str) -> str:
    data = cfg.get("data", {})
    frac = data.get("val_fraction")
    where = f"the {frac:.0%} split of the training data" if frac else "the data's validation split"
    peak = " (peak over checkpoints)" if select_by.endswith("_best") else " (at the last step)"
    return (
        f"validation on {where}, held out at data.seed={data.get('seed')}, the same for every "
        f"seed; selection by {select_by}{peak}; the test metric is read at the last step"
    )


def from_args(args: argparse.Namespace) -> Plan:
    fixed, swept_cli = split(list(args.overrides))
    cfg = compose_with_hydra([f"+experiment={args.experiment}", *fixed])
    swept = {k: str(v).split(",") for k, v in (cfg.hydra.sweeper.params or {}).items()}
    swept.update(swept_cli)
    for text in fixed:  # a key fixed on the command line wins over the preset's sweep of it
        swept.pop(text.lstrip("+").split("=", 1)[0], None)
    swept.pop("seed", None)
    arms = _pick(swept, args.compare, args.arms, "arms")
    if len(arms) != 2:
        raise PlanError(f"--arms={','.join(arms)}: a study compares exactly 2 values")
    tune = None if args.tune == "none" else args.tune
    grid = _pick(swept, tune, args.grid, "grid") if tune else []
    metric = args.metric
    acc = metric.endswith("acc")
    delta = args.delta if args.delta is not None else (0.01 if acc else None)
    if delta is None:
        raise PlanError(f"--delta: required for metric {metric} (no default margin)")
    fail_at_most = args.fail_at_most if args.fail_at_most is not None else (0.15 if acc else None)
    direction = args.direction or ("max" if acc else "min")
    tuning = [args.tuning_seed + i * args.batch for i in range(args.tuning_packs)]
    cells = swept
    m = math.prod(len(v) for v in cells.values())
    stage1 = 2 * m * max(1, len(grid)) * args.batch * args.tuning_packs if tune else 0
    budget = args.budget or stage1 + 2 * m * args.cap
    plan = Plan(
        name=args.name or Path(args.out).name,
        experiment=args.experiment,
        overrides=fixed,
        compare=args.compare,
        arms=arms,
        cells=cells,
        tune=tune,
        grid=grid,
        select_by=args.select_by,
        select_direction="max" if "acc" in args.select_by else "min",
        validation_rule=_validation_rule(cfg, args.select_by),
        metric=metric,
        direction=direction,
        scale=args.scale,
        delta=delta,
        alpha=args.alpha,
        c2=c2_for(args.cap, args.alpha / m),
        batch=args.batch,
        # packed where the preset packs (cnn, vgg, mlp), one job per seed elsewhere (lstm)
        pack=bool(OmegaConf.select(cfg, "train.parallel_seeds", default=1) > 1) and args.pack,
        cap=args.cap,
        budget=budget,
        m=m,
        tuning_seeds=tuning if tune else [],
        confirm_start=args.confirm_seed,
        failed_rule=_failed_rule(args.fail_metric, fail_at_most),
        fail_metric=args.fail_metric,
        fail_at_most=fail_at_most,
        launcher=args.launcher.split() if args.launcher else [],
        logger=args.logger,
        threads=args.threads,
    )
    refuse_published(plan, str(OmegaConf.select(cfg, "task_name")))
    return plan


def refuse_published(plan: Plan, task: str) -> None:
    """A study's seeds must be fresh: none of them in a committed run of the preset's task."""
    taken = published_seeds(task) & (set(plan.tuning_seed_list()) | set(plan.confirm_seeds()))
    if taken:
        raise PlanError(
            f"seeds: {sorted(taken)[:5]}… are published under results/{task}*/ "
            "(pick --tuning-seed and --confirm-seed above them)"
        )


def _failed_rule(metric: str, at_most: float | None) -> str:
    return (
        "a run failed if its status is not completed"
        + (f", or {metric} <= {at_most} (chance)" if at_most is not None else "")
        + "; a pair with a failed run is left out of the difference, and failures per arm "
        "are compared on the pairs where one arm failed"
    )
