"""``python -m biaslab.report.answer`` (``make answer``): the answer on one page.

Reads every published report's verdicts.json, keeps each claim's primary report
(:mod:`biaslab.report.claims`), corrects every headline verdict of every primary report
together (Holm, and Benjamini–Hochberg), and writes results/README.md, results/answer.png and
the answer table of README.md (between its markers)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import false_discovery_control

from biaslab.report import stats
from biaslab.report.claims import CLAIMS, NOT_COUNTED, Claim

ALPHA = 0.05
BEGIN = "<!-- answer table: written by `make answer` from results/*/verdicts.json -->"
END = "<!-- end of the answer table -->"


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
    solve test. Identical runs and twins are not tested."""
    if cmp["identical"] or cmp["twin_of"] is not None:
        return "", None
    t, eq, solve = cmp["test"], cmp["equivalence"], cmp["solve"]
    if cmp["kind"] == "equivalent":
        return "tost", eq["p"]
    if cmp["kind"] in ("helps", "hurts") and "(solve rate)" in cmp["verdict"]:
        return "solve", solve["p"]
    if t is not None and cmp["p_holm"] is not None:  # a t-test the report's family holds
        return "t", t["p"]
    if solve is not None and solve["p_holm"] is not None:
        return "solve", solve["p"]
    return "", None


def row_labels(rows: list[Verdict], group_keys: list[str]) -> list[str]:
    """Each verdict's name within its claim: its group by the keys that tell the rows apart
    (those that vary, less any the others determine, as overparam's lr set per width), and
    its arm where the claim has several."""

    def distinct(ks: list[str]) -> int:
        return len({(v.cmp["value"], *(v.cmp["group"].get(k) for k in ks)) for v in rows})

    keys = [k for k in group_keys if len({v.cmp["group"].get(k) for v in rows}) > 1]
    for k in list(keys):
        if distinct([x for x in keys if x != k]) == distinct(keys):
            keys.remove(k)
    arms = len({v.cmp["value"] for v in rows})
    out = []
    for v in rows:
        group = ", ".join(f"{k.split('.')[-1]}={v.cmp['group'][k]}" for k in keys)
        out.append(f"{group}: {v.cmp['value']}" if arms > 1 or not group else group)
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


def splice(readme: str, table: str) -> str:
    """README.md with the text between its answer-table markers replaced by ``table``."""
    if (
        readme.count(BEGIN) != 1
        or readme.count(END) != 1
        or readme.index(BEGIN) > readme.index(END)
    ):
        raise ValueError(f"README.md needs one {BEGIN!r} line, then one {END!r} line")
    head, rest = readme.split(BEGIN)
    return head + BEGIN + "\n" + table + END + rest.split(END, 1)[1]


def write_answer(results: Path, out: Path, readme: Path | None) -> list[Path]:
    """results/README.md and answer.png under ``out``; the README.md table when given."""
    from biaslab.report.answer_page import readme_table, render_page
    from biaslab.report.answer_plot import answer_figure

    ans = answer(results)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "README.md"
    page.write_text(render_page(ans))
    written = [page, answer_figure(ans, out / "answer.png")]
    if readme is not None:
        readme.write_text(splice(readme.read_text(), readme_table(ans)))
        written.append(readme)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m biaslab.report.answer", description=__doc__)
    p.add_argument("--results", default="results", help="the published reports (results/)")
    p.add_argument("--out", default=None, help="where README.md and answer.png go (--results)")
    p.add_argument("--readme", default="README.md", help="the README whose table to rewrite")
    p.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = p.parse_args(argv)
    results = Path(args.results)
    try:
        written = write_answer(
            results,
            Path(args.out) if args.out else results,
            None if args.no_readme else Path(args.readme),
        )
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
