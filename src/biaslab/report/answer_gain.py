"""The answer page's view of ``--interaction``: does the gain depend on another swept key?
(The gain at each level minus the gain at the reference level, paired by seed; the report
corrects these tests as families of their own, so they stay out of the global correction.)"""

from __future__ import annotations

from collections import Counter

from biaslab.report.claims import Claim
from biaslab.report.values import fmt_num, fmt_p

KINDS = ("larger", "smaller", "same", "inconclusive")


def gains_of(claim: Claim, data: dict) -> list[dict]:
    """The report's interaction tests that bear on this claim: all of them, unless the claim
    keeps some groups (``where``) and the interaction runs within them (its key is not one of
    ``where``'s), where only those in the kept groups' contexts count."""
    xs = data.get("interactions") or []
    if not claim.where or data.get("interaction_key") in claim.where:
        return xs
    wanted = [f"{k}={v}" for k, v in claim.where.items()]
    return [x for x in xs if all(w in x["context"].split(", ") for w in wanted)]


def gain_cell(xs: list[dict]) -> str:
    """ "depth vs 3: smaller 2 of 2" for the summary table; "—" without interactions."""
    if not xs:
        return "—"
    counted = Counter(x["kind"] for x in xs)
    parts = [f"{k} {counted[k]}" for k in KINDS if counted[k]]
    n = len(xs)
    said = f"{parts[0]} of {n}" if len(parts) == 1 else ", ".join(parts) + f" (of {n})"
    return f"{xs[0]['key'].split('.')[-1]} vs {xs[0]['reference']}: {said}"


def _ci(t: dict | None, metric: str) -> str:
    if t is None or t["diff"] is None:
        return "—"
    lo, hi = fmt_num(t["ci_low"], metric), fmt_num(t["ci_high"], metric)
    return f"{fmt_num(t['diff'], metric, sign=True)} [{lo}, {hi}]"


def gain_table(xs: list[dict], metric: str) -> list[str]:
    """Markdown lines: one row per interaction test, as the report states it."""
    if not xs:
        return []
    key, ref = xs[0]["key"], xs[0]["reference"]
    lines = [
        "",
        f"Does the gain depend on `{key}`? The gain at each level minus the gain at "
        f"`{key}={ref}`, per seed (the report's own Holm families, not in the global "
        "correction):",
        "",
        "| context | level | verdict | gain difference, 95 % CI | 90 % CI | seeds | p "
        "| report Holm p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in xs:
        t, eq = x["test"], x["equivalence"]
        eq_text = "—"
        if eq is not None:
            eq_text = f"[{fmt_num(eq['ci_low'], metric)}, {fmt_num(eq['ci_high'], metric)}]"
        p = "—" if t is None or t["p"] is None else fmt_p(t["p"]).removeprefix("p=")
        holm = "—" if x["p_holm"] is None else fmt_p(x["p_holm"]).removeprefix("p=")
        lines.append(
            f"| {x['context']} | {x['level']} | {x['kind']} | {_ci(t, metric)} | {eq_text} "
            f"| {len(x['diffs'])} | {p} | {holm} |"
        )
    return lines
