"""``python -m biaslab.report.answer`` (``make answer``): the answer on one page.

Reads every published report's verdicts.json, keeps each claim's primary report
(:mod:`biaslab.report.claims`), corrects every headline verdict of every primary report
together (Holm, and Benjamini–Hochberg), and writes results/README.md, results/answer.png and
the answer table of README.md (between its markers)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from biaslab.report.answer_data import answer
from biaslab.report.answer_page import readme_table, render_page
from biaslab.report.answer_plot import answer_figure

BEGIN = "<!-- answer table: written by `make answer` from results/*/verdicts.json -->"
END = "<!-- end of the answer table -->"


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
