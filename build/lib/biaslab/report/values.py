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


def fmt_num(x: float, metric: str, sign: bool = False) -> str:
    if not math.isfinite(x):
        return "—"
    if scale(metric) == 100.0:
        return f"{x * 100:+.1f}" if sign else f"{x * 100:.1f}"
    return f"{x:+.3g}" if sign else f"{x:.3g}"


def fmt_p(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.2g}"
