"""The answer's numbers: every primary report's headline verdicts (from each report's
verdicts.json, :mod:`biaslab.report.claims` saying which report answers which claim),
corrected together (Holm, and Benjamini–Hochberg). Written out by
:mod:`biaslab.report.answer`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import false_discovery_control

from biaslab.report import stats
from biaslab.report.claims import CLAIMS, NOT_COUNTED, Claim

ALPHA = 0.05


@dataclass
class Verdict:
    """One headline comparison of a primary report, with the global correction's numbers."""

    claim: Claim
    cmp: dict  # its entry in verdicts.json
    test: str = ""  # the test the headline p comes from: t, tost, solve ("" when none ran)
    p: float | None = None
    q_bh: float | None = None  # Benjamini–Hochberg over every headline verdict
    p_holm: float | None = None  # Holm over every headline verdict

    @property
    def decisive(self) -> bool:
        return self.cmp["kind"] in ("helps", "hurts", "equivalent") and self.cmp["twin_of"] is None

    @property
    def survives(self) -> bool:
        return self.decisive and self.p_holm is not None and self.p_holm < ALPHA


@dataclass
class Answer:
    reports: dict[str, dict]  # folder under results/ → its verdicts.json
    verdicts: dict[int, list[Verdict]]  # per claim (its index in CLAIMS)
    family: list[Verdict]  # the verdicts the global correction runs over


def headline(cmp: dict) -> tuple[str, float | None]:
    """The test a verdict rests on: the difference test (the solve test where the verdict reads
    the solve rate), TOST for "equivalent"; for "inconclusive" the difference test, else the
    solve test. Identical runs and twins are not tested. A study's entries name their test
    (its anytime-valid p against 0, or its anytime-valid equivalence p)."""
    if cmp["identical"] or cmp["twin_of"] is not None:
        return "", None
    t, eq, solve = cmp["test"], cmp["equivalence"], cmp["solve"]
    if cmp["kind"] == "equivalent":
        return eq.get("name", "tost"), eq["p"]
    if cmp["kind"] in ("helps", "hurts") and "(solve rate)" in cmp["verdict"]:
        return "solve", solve["p"]
    if t is not None and cmp["p_holm"] is not None:  # a t-test the report's family holds
        return t.get("name", "t"), t["p"]
    if solve is not None and solve["p_holm"] is not None:
        return "solve", solve["p"]
    return "", None


def row_labels(rows: list[Verdict], group_keys: list[str]) -> list[str]:
    """Each verdict's name within its claim: its group by the keys that tell the rows apart
    (those that vary, less any the others determine, as overparam's lr set per width), and
    its arm where the claim has several. A lone row is named by its whole group, or by its arm
    where it has none."""

    def distinct(ks: list[str]) -> int:
        return len({(v.cmp["value"], *(v.cmp["group"].get(k) for k in ks)) for v in rows})

    keys = [k for k in group_keys if len({v.cmp["group"].get(k) for v in rows}) > 1]
    for k in list(keys):
        if distinct([x for x in keys if x != k]) == distinct(keys):
            keys.remove(k)
    if not keys and len(rows) == 1:  # one row (a claim narrowed to one group): its group
        keys = [k for k in group_keys if k in rows[0].cmp["group"]]
    arms = len({v.cmp["value"] for v in rows})
    out = []
    for v in rows:
        group = ", ".join(f"{k.split('.')[-1]}={v.cmp['group'][k]}" for k in keys)
        if arms > 1 or not group:  # the arm; after its group where it has one
            group = f"{group}: {v.cmp['value']}" if group else str(v.cmp["value"])
        out.append(group)
    return out


def load_reports(results: Path) -> dict[str, dict]:
    """Every report folder under ``results`` → its verdicts.json; a report without one, or
    one the claims index does not know, is an error."""
    out = {}
    for md in sorted(results.rglob("report.md")):
        folder = md.parent.relative_to(results).as_posix()
        data = md.parent / "verdicts.json"
        if not data.is_file():
            raise ValueError(f"{md}: no verdicts.json beside it (rebuild it: make reports)")
        known = folder in NOT_COUNTED or any(c.report == folder for c in CLAIMS)
        if not known:
            raise ValueError(
                f"{folder}: not in biaslab.report.claims (a claim's report, or NOT_COUNTED)"
            )
        out[folder] = json.loads(data.read_text())
    return out


def _in(claim: Claim, cmp: dict) -> bool:
    return all(cmp["group"].get(k) == v for k, v in claim.where.items())


def answer(results: Path) -> Answer:
    reports = load_reports(results)
    verdicts: dict[int, list[Verdict]] = {}
    for i, claim in enumerate(CLAIMS):
        if claim.report not in reports:
            raise ValueError(f"{claim.report}: claimed in biaslab.report.claims, no report there")
        cmps = [c for c in reports[claim.report]["comparisons"] if _in(claim, c)]
        verdicts[i] = [Verdict(claim, c, *headline(c)) for c in cmps]
    family = [v for vs in verdicts.values() for v in vs if v.p is not None]
    ps = [v.p for v in family]
    for v, q, h in zip(
        family, false_discovery_control(ps, method="bh"), stats.holm(ps), strict=True
    ):
        v.q_bh, v.p_holm = float(q), float(h)
    return Answer(reports, verdicts, family)
