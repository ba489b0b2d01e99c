"""How config values and metric numbers are compared, ordered and written."""

from __future__ import annotations

import json
import math
from typing import Any


def ident(value: Any) -> str:
    # JSON text as identity: keeps True apart from 1 (Python's == does not) and hashes lists.
    return json.dumps(value, sort_keys=True, default=str)


def fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, (bool, int, float)):
        return (1, float(value), "")
    return (0, 0.0, "") if value is None else (2, 0.0, ident(value))


def lower_is_better(metric: str) -> bool:
    return any(word in metric.lower() for word in ("loss", "mse", "error", "steps_to"))


def scale(metric: str) -> float:
    """Accuracy-like metrics are shown in percentage points, everything else in raw units."""
    return 100.0 if "acc" in metric.lower() and not lower_is_better(metric) else 1.0


def is_accuracy(metric: str) -> bool:
    """``…/acc``, ``…/acc_best`` (not ``…/acc_best_step``): a fraction in [0, 1]."""
    leaf = metric.rsplit("/", 1)[-1]
    return leaf == "acc" or (leaf.startswith("acc_") and not leaf.endswith("_step"))


# The largest magnitude a metric may have: float32's. A run computes in float32 (or a float64
# whose larger values are a divergence, not a measurement); past it the report's own arithmetic
# and plots overflow.
FLOAT32_MAX = 3.4028234663852886e38


def number(value: Any) -> float | None:
    """A JSON number within float32's range as a float; None for anything else: a bool
    (``True == 1`` in Python), a string ("0.9"), null, a list or object, an infinity, 1e308."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:  # an integer no float holds
        return None
    return x if abs(x) <= FLOAT32_MAX else None


def why_not_a_value(metric: str, value: Any) -> str | None:
    """Why a recorded ``metric`` value cannot be used (None: it can): not a number, not
    finite, beyond float32's range, or an accuracy outside [0, 1]."""
    x = number(value)
    shown = ident(value) if len(ident(value)) <= 40 else ident(value)[:40] + "…"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{metric} = {shown}: not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{metric} = {value!r}"
    if x is None:
        return f"{metric} = {shown}: beyond float32's range (magnitude at most 3.4e38)"
    if is_accuracy(metric) and not 0.0 <= x <= 1.0:
        return f"{metric} = {shown}: an accuracy must be in [0, 1]"
    return None


def metric_value(metric: str, value: Any) -> float | None:
    """``value`` as a float when it is a usable ``metric`` value, else None."""
    return None if why_not_a_value(metric, value) else number(value)


def fmt_num(x: float, metric: str, sign: bool = False) -> str:
    if not math.isfinite(x):
        return "—"
    if scale(metric) == 100.0:
        return f"{x * 100:+.1f}" if sign else f"{x * 100:.1f}"
    return f"{x:+.3g}" if sign else f"{x:.3g}"


def fmt_p(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.2g}"
