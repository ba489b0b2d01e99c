"""The answer page as markdown: one line per claim, the global correction, then each claim's
verdicts in detail (results/README.md), and the same table for README.md."""

from __future__ import annotations

import math
from collections import Counter

from biaslab.report.answer_data import ALPHA, Answer, Verdict, row_labels
from biaslab.report.answer_gain import gain_cell, gain_table, gains_of
from biaslab.report.claims import CLAIMS, NOT_COUNTED, Claim
from biaslab.report.values import fmt_num, fmt_p, scale

KINDS = ("helps", "hurts", "equivalent", "inconclusive")


def _unit(metric: str) -> str:
    return " pts" if scale(metric) == 100.0 else ""


def _num(x: float, data: dict, sign: bool = False) -> str:
    """A difference as the report states it; a log-scale study's (log of a ratio) as the
    ratio, ×exp(x)."""
    if data.get("log_scale"):
        return f"×{math.exp(x):.3g}" if math.isfinite(x) else "—"
    return fmt_num(x, data["metric"], sign=sign)


def _ci(t: dict | None, data: dict, sign: bool = True) -> str:
    if t is None or t["diff"] is None:
        return "—"
    lo, hi = _num(t["ci_low"], data), _num(t["ci_high"], data)
    return f"{_num(t['diff'], data, sign=sign)} [{lo}, {hi}]"


def _ratio(data: dict) -> str:
    if not data.get("log_scale"):
        return ""
    return f" (log scale: the geometric mean ratio to `{data['baseline']}`)"


def _margin(data: dict) -> str:
    if data["margin"] is None:
        return "none"
    if data.get("log_scale"):  # a ratio margin: ×1/δ to ×δ
        return f"{_num(-data['margin'], data)} to {_num(data['margin'], data)}"
    return f"±{fmt_num(data['margin'], data['metric'])}{_unit(data['metric'])}"


def _q(x: float | None) -> str:
    if x is None:
        return "—"
    return "<0.0001" if x < 1e-4 else f"{x:.2g}"


def _twin(cmp: dict, baseline: str) -> str | None:
    """ "`auto` ≡ `false`" for an arm whose runs are another's, bit for bit; else None."""
    if cmp["identical"]:
        return f"`{cmp['value']}` ≡ `{baseline}`"
    return None if cmp["twin_of"] is None else f"`{cmp['value']}` ≡ `{cmp['twin_of']}`"


def _counts(vs: list[Verdict], baseline: str) -> str:
    counted = Counter(v.cmp["kind"] for v in vs if v.cmp["twin_of"] is None)
    n = sum(counted[k] for k in KINDS)
    parts = [f"{k} {counted[k]}" for k in KINDS if counted[k]]
    text = f"{parts[0]} of {n}" if len(parts) == 1 else ", ".join(parts) + f" (of {n})"
    same = sorted({t for v in vs if (t := _twin(v.cmp, baseline))})
    return text + (f" ({', '.join(same)}: the same runs)" if same else "")


def _effect(vs: list[Verdict], data: dict) -> str:
    metric = data["metric"]
    tested = [v for v in vs if v.cmp["test"] is not None and v.cmp["twin_of"] is None]
    if not tested:
        return "—"
    tested.sort(key=lambda v: v.cmp["test"]["diff"])
    ends = [tested[0], tested[-1]] if len(tested) > 1 else tested
    text = " to ".join(_ci(v.cmp["test"], data) for v in ends) + _unit(metric)
    if data.get("interval"):  # a study: not a 95 % CI, its confidence sequence at 1 − α/m
        text += f" ({data['interval']})"
    for v in vs:  # a verdict that reads the solve rate: its counts, not a difference
        if "(solve rate)" in v.cmp["verdict"]:
            s = v.cmp["solve"]
            where = ", ".join(f"{k.split('.')[-1]}={x}" for k, x in v.cmp["group"].items())
            text += (f"; solved {s['solved']}/{s['n']} vs {s['solved_baseline']}/{s['n']} "
                     f"(`{v.cmp['value']}`, {where})")  # fmt: skip
    return text


def _seeds(vs: list[Verdict], data: dict) -> str:
    ns = sorted({len(v.cmp["diffs"]) for v in vs})
    text = str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return text + (", sequential" if _study(data) else "")


def _protocol(claim: Claim, data: dict) -> str:
    return claim.protocol or ("tuned lr" if data["select"] else "fixed lr")


def _study(data: dict) -> bool:
    return data.get("protocol") == "study"


def _global(vs: list[Verdict]) -> str:
    decisive = [v for v in vs if v.decisive]
    if not decisive:
        return "no verdict to correct"
    holm = sum(v.survives for v in decisive)
    bh = sum(v.q_bh is not None and v.q_bh < ALPHA for v in decisive)
    return f"Holm {holm}/{len(decisive)}, BH {bh}/{len(decisive)}"


def summary_table(ans: Answer, link: str = "") -> str:
    """One line per claim; ``link``: the path from the page to results/."""
    rows = [
        "| claim | data | verdicts | effect, 95 % CI (smallest to largest) | gain across "
        "another key | seeds | protocol | survive global correction | report |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, claim in enumerate(CLAIMS):
        vs, data = ans.verdicts[i], ans.reports[claim.report]
        where = "".join(f" ({k.split('.')[-1]}={v})" for k, v in claim.where.items())
        rows.append(
            f"| {claim.claim} | {claim.data} | {_counts(vs, data['baseline'])} "
            f"| {_effect(vs, data)} | {gain_cell(gains_of(claim, data))} "
            f"| {_seeds(vs, data)} | {_protocol(claim, data)} | {_global(vs)} "
            f"| [{claim.report}]({link}{claim.report}/report.md){where} |"
        )
    return "\n".join(rows) + "\n"


def survival(ans: Answer) -> str:
    """Which claims survive the global correction, in words: per claim, the verdicts that
    still hold after Holm over every headline test."""
    decisive = [v for v in ans.family if v.decisive]
    holm = [v for v in decisive if v.survives]
    bh = [v for v in decisive if v.q_bh < ALPHA]
    n_reports = len({c.report for c in CLAIMS})
    lines = [
        f"Global correction over the {len(ans.family)} headline tests of the {n_reports} "
        f"primary reports: {len(decisive)} verdicts are decisive (helps, hurts or equivalent) "
        f"in their own report; {len(holm)} of them survive Holm's correction over all "
        f"{len(ans.family)}, and {len(bh)} Benjamini–Hochberg at q < {ALPHA:g}. Surviving Holm:",
        "",
    ]
    lost = []
    for i, claim in enumerate(CLAIMS):
        rows = [v for v in ans.verdicts[i] if v.p is not None]
        names = dict(
            zip(
                map(id, rows),
                row_labels(rows, ans.reports[claim.report]["group_keys"]),
                strict=True,
            )
        )
        kept = [v for v in rows if v.survives]
        n = sum(v.decisive for v in rows)
        if kept:
            by_kind = {}
            for v in kept:
                by_kind.setdefault(v.cmp["kind"], []).append(f"`{names[id(v)] or 'all runs'}`")
            said = "; ".join(f"{k} at {', '.join(where)}" for k, where in by_kind.items())
            lines.append(f"- {claim.claim} ({claim.data}): {said} ({len(kept)} of {n})")
        elif n:
            lost.append(f"{claim.claim} ({claim.data}, 0 of {n})")
    if lost:
        lines.append("- none of the decisive verdicts of: " + "; ".join(lost))
    return "\n".join(lines) + "\n"


def readme_table(ans: Answer) -> str:
    return (
        summary_table(ans, "results/")
        + "\n![every claim's paired differences](results/answer.png)\n\n"
        + survival(ans)
        + "\nPer verdict, with every number: [results/README.md](results/README.md).\n"
    )


def _left_out(cmp: dict, data: dict) -> str:
    parts = []
    n = len(cmp["diffs"])
    if cmp["not_learned"]:
        d = cmp["did_not_learn"]
        parts.append(
            f"{len(cmp['not_learned'])} of {n} pairs did not learn (`{cmp['value']}` "
            f"{d['value']}/{n}, baseline {d['baseline']}/{n}, exact p={_q(d['p'])})"
        )
        if cmp["all_pairs"] is not None:
            t = cmp["all_pairs"]
            parts.append(f"all pairs: {_ci(t, data)}, {fmt_p(t['p'])}")
    if cmp["solve"] is not None:
        s = cmp["solve"]
        parts.append(f"solved {s['solved']}/{s['n']} vs {s['solved_baseline']}/{s['n']}, "
                     f"exact {fmt_p(s['p'])}")  # fmt: skip
    return "; ".join(parts) or "—"


def _row(v: Verdict, data: dict) -> str:
    cmp = v.cmp
    group = ", ".join(f"{k.split('.')[-1]}={x}" for k, x in cmp["group"].items()) or "all"
    same = _twin(cmp, data["baseline"])
    if same:  # drawn once: its numbers are the other arm's row
        return f"| {group} | {cmp['value']} | {same} (same runs, not tested) |" + " — |" * 10
    kind = cmp["kind"]
    if "(solve rate)" in cmp["verdict"]:
        kind += " (solve rate)"
    if "look" in cmp:  # a study's cell: where it stopped
        look = cmp["look"]
        why = "" if look["stopped"] == "decided" else f", stopped by the {look['stopped']}"
        kind += f" (n = {look['n']}, look {look['k']} of {look['of']}{why})"
    eq = cmp["equivalence"]
    eq_text = "—" if eq is None else f"[{_num(eq['ci_low'], data)}, {_num(eq['ci_high'], data)}]"
    if _study(data):  # one interval decides every verdict of a study
        eq_text = "the same"
    tuned = " vs ".join(cmp["tuned"].values()) if cmp["tuned"] else "—"
    usable = f"{len(cmp['diffs'])} ({len(cmp['usable'])})"
    holm = (eq or {}).get("p_holm") if cmp["kind"] == "equivalent" else cmp["p_holm"]
    if v.test == "solve":
        holm = cmp["solve"]["p_holm"]
    return (
        f"| {group} | {cmp['value']} | {kind} | {_ci(cmp['test'], data)} | {eq_text} | {usable} "
        f"| {tuned} | {v.test or '—'} | {_q(v.p)} | {_q(holm)} | {_q(v.q_bh)} | {_q(v.p_holm)} "
        f"| {_left_out(cmp, data)} |"
    )


def claim_section(ans: Answer, i: int) -> str:
    claim, vs = CLAIMS[i], ans.verdicts[i]
    data = ans.reports[claim.report]
    tuned = f": `{data['select']}` chosen per arm by `{data['by']}`" if data["select"] else ""
    ci, eq_ci, own = "95 % CI", "90 % CI", "report Holm p"
    if _study(data):
        tuned += " on tuning seeds, then" if data["select"] else ": no tuning,"
        tuned += (
            f" fresh seeds in batches until each cell is decided (plan "
            f"{data['plan_hash']}); intervals: the {data['interval']} (anytime-valid), p: "
            f"anytime-valid; its own correction: {data['correction']}"
        )
        ci, eq_ci, own = data["interval"], "equivalence interval", "study Bonferroni p (m·p)"
    lines = [
        f"### {claim.claim} — {claim.data}",
        "",
        f"[{claim.report}]({claim.report}/report.md): `{data['compare']}` against "
        f"`{data['baseline']}` on `{data['metric']}`{_ratio(data)}, margin "
        f"{_margin(data)}; {_protocol(claim, data)}{tuned}.",
        "",
        f"| group | arm | verdict | difference, {ci} | {eq_ci} | seeds (usable) | lr chosen "
        f"| test | p | {own} | global BH q | global Holm p | left out, solved |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    gains = gain_table(gains_of(claim, data), data["metric"])
    return "\n".join(lines + [_row(v, data) for v in vs] + gains) + "\n"


def render_page(ans: Answer) -> str:
    out = [
        "# The answer: every claim, every verdict",
        "",
        "Written by `make answer` (`python -m biaslab.report.answer`) from each published "
        "report's `verdicts.json`; do not edit by hand. One line per claim and data set, from "
        "its primary report; the reports below the table re-read the same runs or ran a "
        "superseded protocol (an exploratory report a study re-decided among them), and are "
        "not counted.",
        "",
        summary_table(ans),
        survival(ans),
        "![every claim's paired differences](answer.png)",
        "",
        "## How the global correction counts",
        "",
        "Each report corrects its own tests (Holm over its difference tests, and over its "
        "equivalence tests as a family of their own). Here every headline verdict of every "
        "primary report is one test in a single family: the paired t-test for helps, hurts and "
        "inconclusive (the exact paired solve test where the verdict reads the solve rate, or "
        "where no t-test ran), TOST for equivalent. Identical runs and twins (`auto` ≡ `false`) "
        "are not tested. A study's cell enters with its anytime-valid p: against 0 for helps, "
        "hurts and inconclusive, the equivalence p (the weaker of the evidence against +δ and "
        "against −δ) for equivalent; a study corrects its own cells by Bonferroni (α/m), "
        "shown where a report shows its Holm p. *global Holm p* controls the chance of any "
        "false verdict; *global BH "
        "q* (Benjamini–Hochberg, `scipy.stats.false_discovery_control`) the expected share of "
        "false ones. A verdict survives when its global Holm p is below "
        f"{ALPHA:g}.",
        "",
        "## Verdicts per claim",
        "",
    ]
    out += [claim_section(ans, i) for i in range(len(CLAIMS))]
    out += ["## Also published, not counted", ""]
    for folder, why in NOT_COUNTED.items():
        if folder in ans.reports:
            data = ans.reports[folder]
            vs = [Verdict(CLAIMS[0], c) for c in data["comparisons"]]
            counts = _counts(vs, data["baseline"])
            out.append(f"- [{folder}]({folder}/report.md): {why}; verdicts: {counts}")
    return "\n".join(out) + "\n"
