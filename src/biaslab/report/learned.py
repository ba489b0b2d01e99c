"""Did a run learn at all? A run that never left chance level is no evidence about the bias:
its pair is kept out of the difference test and named in the report."""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence

from biaslab.report.load import Run
from biaslab.report.values import metric_value

# MSE/baseline at or above this: no better than predicting a constant (the trivial baseline).
TRIVIAL_CUTOFF = 0.9
# Accuracy within this of 1/classes is chance: the binomial SD of a 10 %-accuracy run on
# MNIST-1D's 1,000 test examples is 0.95 pts, so 2 pts is about two SDs.
CHANCE_MARGIN = 0.02
# A final train loss within this fraction of ln(classes) is the loss of a uniform prediction.
LOSS_TOLERANCE = 0.02
ACC_METRIC = "test/acc"
TRAIN_LOSS = "train/loss"


def classes_of(run: Run, cache: dict[str, int | None]) -> int | None:
    """The number of classes of a run's dataset: as the run recorded it (``data.num_classes``
    in results.json), else, for records written before that field, the ``num_classes`` its
    data module class declares (``data._target_``); None when neither says (no chance check)."""
    recorded = run.data.get("num_classes")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded if recorded >= 2 else None  # 1: a regression output
    target = run.config.get("data._target_")
    if not isinstance(target, str) or "." not in target:
        return None
    if target not in cache:
        module, _, name = target.rpartition(".")
        try:
            value = getattr(importlib.import_module(module), name).num_classes
            cache[target] = int(value) if int(value) >= 2 else None  # 1: a regression output
        except (ImportError, AttributeError, TypeError, ValueError):
            cache[target] = None
    return cache[target]


def at_chance(value: float, metric: str, classes: int | None) -> bool:
    """Whether one value of ``metric`` says the run did not learn: a ``*_over_baseline``
    ratio at or above the cutoff, or an accuracy (``…/acc``, ``…/acc_best``) within the
    margin of chance. Other metrics (a loss, an MSE, a step) have no such level here."""
    if metric.endswith("_over_baseline"):
        return value >= TRIVIAL_CUTOFF
    if classes is None or metric.rsplit("/", 1)[-1] not in ("acc", "acc_best"):
        return False
    return value <= 1.0 / classes + CHANCE_MARGIN


def why_not_learned(run: Run, metric: str, classes: int | None) -> str | None:
    """Why ``run`` did not learn, or None when it did (or when nothing says it did not)."""
    ratios = [metric] if metric.endswith("_over_baseline") else []
    ratios += sorted(
        k for k in run.metrics if k.startswith("test/") and k.endswith("_over_baseline")
    )
    for key in dict.fromkeys(ratios):
        ratio = metric_value(key, run.metrics.get(key))
        if ratio is not None and at_chance(ratio, key, classes):
            return f"{key} {ratio:.3g} ≥ {TRIVIAL_CUTOFF} (no better than the trivial predictor)"
    if classes is None:
        return None
    chance = 1.0 / classes
    acc = metric_value(ACC_METRIC, run.metrics.get(ACC_METRIC))
    if acc is not None and at_chance(acc, ACC_METRIC, classes):
        return (
            f"{ACC_METRIC} {acc * 100:.1f} % within {CHANCE_MARGIN * 100:g} pts of chance "
            f"({chance * 100:g} %)"
        )
    loss = metric_value(TRAIN_LOSS, run.metrics.get(TRAIN_LOSS))
    if loss is not None and abs(loss - math.log(classes)) <= LOSS_TOLERANCE * math.log(classes):
        return f"{TRAIN_LOSS} {loss:.3f} ≈ ln {classes} = {math.log(classes):.3f} (uniform guess)"
    return None


def not_learned(runs: Sequence[Run], metric: str, classes: int | None) -> list[tuple[Run, str]]:
    """The runs among ``runs`` that did not learn, each with the reason."""
    out = []
    for r in runs:
        why = why_not_learned(r, metric, classes)
        if why is not None:
            out.append((r, why))
    return out
