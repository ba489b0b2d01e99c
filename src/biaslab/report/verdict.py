"""The words of a verdict, from a paired test."""

from __future__ import annotations

from collections.abc import Sequence

from biaslab.report import stats
from biaslab.report.values import fmt_num, fmt_p, lower_is_better, scale

ALPHA = 0.05
# An *_over_baseline metric is 1.0 for a trivial predictor; an arm must get clearly below it
# before a difference between arms means anything.
TRIVIAL_CUTOFF = 0.9


def fmt_test(test: stats.PairedTest, metric: str) -> str:
    unit = " pts" if scale(metric) == 100.0 else ""
    return (
        f"{fmt_num(test.diff, metric, sign=True)}{unit} [{fmt_num(test.ci_low, metric)}, "
        f"{fmt_num(test.ci_high, metric)}], {fmt_p(test.p)}"
    )


def verdict(
    label: str, test: stats.PairedTest | None, n_pairs: int, metric: str, arm_means: Sequence[float]
) -> str:
    if metric.endswith("_over_baseline") and not any(m < TRIVIAL_CUTOFF for m in arm_means):
        # Two arms that both lose to a constant predictor differ in noise, not in learning.
        detail = f" ({fmt_test(test, metric)})" if test else ""
        return f"inconclusive: no arm beats the trivial baseline{detail}"
    if test is None:
        return f"too few paired seeds (n={n_pairs})"
    if not test.p < ALPHA:
        return f"no significant difference: {fmt_test(test, metric)}"
    better = test.diff < 0 if lower_is_better(metric) else test.diff > 0
    return f"{label} {'helps' if better else 'hurts'}: {fmt_test(test, metric)}"
