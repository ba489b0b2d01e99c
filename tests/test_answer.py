"""The answer page: generated from the committed reports, never typed by hand."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from biaslab.report import answer as answer_mod
from biaslab.report.answer import BEGIN, END, splice, write_answer
from biaslab.report.answer_data import headline
from biaslab.report.answer_page import readme_table
from biaslab.report.claims import CLAIMS, NOT_COUNTED
from biaslab.report.cli import main as report_main
from tests.conftest import ROOT, run_cli

RESULTS = ROOT / "results"
README = ROOT / "README.md"


def test_committed_answer_page_is_what_make_answer_writes(tmp_path):
    """results/README.md and README.md's answer table equal a fresh generation: a report
    republished without `make answer`, or a number edited by hand, fails here."""
    write_answer(RESULTS, tmp_path, None)
    generated = (tmp_path / "README.md").read_text()
    committed = (RESULTS / "README.md").read_text()
    assert committed == generated, "results/README.md is stale: run `make answer`"
    assert (tmp_path / "answer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (RESULTS / "answer.png").is_file()
    readme = README.read_text()
    table = readme_table(answer_mod.answer(RESULTS))
    assert splice(readme, table) == readme, "README.md's answer table is stale: make answer"


def test_every_report_has_verdicts_json_that_its_command_writes(tmp_path):
    """A committed verdicts.json is what its report's recorded command writes now (the
    smallest published report, rebuilt into a scratch folder)."""
    md = (RESULTS / "overparam_paired" / "report.md").read_text()
    cmd = re.search(r"^Command: `python -m biaslab\.report (.*)`$", md, re.M).group(1)
    argv = shlex.split(cmd)
    argv[argv.index("--out") + 1] = str(tmp_path)
    paths = [str(ROOT / a) if a.startswith("results/") else a for a in argv]
    assert report_main(paths) == 0
    fresh = json.loads((tmp_path / "verdicts.json").read_text())
    committed = json.loads((RESULTS / "overparam_paired" / "verdicts.json").read_text())
    fresh["command"] = committed["command"]  # the scratch --out differs, nothing else may
    assert fresh == committed
    assert all((p.parent / "verdicts.json").is_file() for p in RESULTS.rglob("report.md"))


def _copy_reports(dest: Path) -> None:
    for md in RESULTS.rglob("report.md"):
        folder = dest / md.parent.relative_to(RESULTS)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(md, folder / "report.md")
        shutil.copy(md.parent / "verdicts.json", folder / "verdicts.json")


def test_a_report_the_index_does_not_know_stops_the_page(tmp_path):
    _copy_reports(tmp_path)
    (tmp_path / "new_study").mkdir()
    shutil.copy(tmp_path / "bias_vs_depth" / "report.md", tmp_path / "new_study" / "report.md")
    shutil.copy(tmp_path / "bias_vs_depth" / "verdicts.json", tmp_path / "new_study")
    with pytest.raises(ValueError, match="new_study: not in biaslab.report.claims"):
        answer_mod.answer(tmp_path)
    (tmp_path / "new_study" / "verdicts.json").unlink()
    with pytest.raises(ValueError, match="no verdicts.json"):
        answer_mod.answer(tmp_path)


def test_global_correction_counts_each_headline_verdict_once(tmp_path):
    ans = answer_mod.answer(RESULTS)
    # twins and identical runs are not tested; every other tested verdict is in the family
    tested = [v for vs in ans.verdicts.values() for v in vs if v.p is not None]
    assert ans.family == tested
    assert not any(v.cmp["twin_of"] or v.cmp["identical"] for v in ans.family)
    # the global Holm p is never below the report's own, nor below the raw p
    for v in ans.family:
        assert v.p_holm >= v.p and v.q_bh >= v.p
    # superseded reports and re-reads are not in the family
    assert {v.claim.report for v in ans.family}.isdisjoint(NOT_COUNTED)


def _cmp(kind: str, verdict: str = "", **extra) -> dict:
    base = {"kind": kind, "verdict": verdict, "identical": False, "twin_of": None,
            "test": {"p": 0.01}, "p_holm": 0.02, "equivalence": {"p": 0.003},
            "solve": None}  # fmt: skip
    return {**base, **extra}


def test_headline_test_per_verdict():
    assert headline(_cmp("helps")) == ("t", 0.01)
    assert headline(_cmp("equivalent")) == ("tost", 0.003)
    assert headline(_cmp("inconclusive")) == ("t", 0.01)
    solve = {"p": 0.002, "p_holm": 0.025}
    assert headline(_cmp("helps", "x helps (solve rate): …", solve=solve)) == ("solve", 0.002)
    no_t = _cmp("inconclusive", test=None, p_holm=None, solve=solve)
    assert headline(no_t) == ("solve", 0.002)
    assert headline(_cmp("equivalent", identical=True)) == ("", None)
    assert headline(_cmp("helps", twin_of="true")) == ("", None)


def test_splice_needs_both_markers_in_order():
    text = f"a\n{BEGIN}\nold\n{END}\nb\n"
    assert splice(text, "new\n") == f"a\n{BEGIN}\nnew\n{END}\nb\n"
    with pytest.raises(ValueError, match="needs one"):
        splice(f"{END}\n{BEGIN}\n", "x")
    with pytest.raises(ValueError, match="needs one"):
        splice("no markers", "x")


def test_readme_is_short_and_links_what_moved():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    text = "\n".join(lines)
    head = "\n".join(lines[:30])
    assert BEGIN in head and "make train" in head and "make test" in head
    for doc in ("reliability", "seed-parallel", "scaling", "datasets", "configuration",
                "layout", "performance", "protocol-timing", "findings"):  # fmt: skip
        assert f"(docs/{doc}.md" in text and (ROOT / "docs" / f"{doc}.md").is_file()
    for target in re.findall(r"\]\(((?:docs|results)/[^)#]+)", text):
        assert (ROOT / target).exists(), target


@pytest.mark.slow
def test_readme_preset_and_report_commands_run(tmp_path):
    """The README's "a first look" preset command and its report command, as written, at a
    tiny budget (20 steps)."""
    block = README.read_text().split("## Run a preset, read its report")[1]
    train = next(x for x in block.splitlines() if x.startswith("python train.py"))
    report = next(x for x in block.splitlines() if x.startswith("python -m biaslab.report"))
    args = shlex.split(train.split("#")[0])[2:]
    tiny = ["trainer.max_steps=20", "trainer.val_check_interval=10", "logger=none",
            "checkpoint.at_end=false", f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    done = run_cli([*args, *tiny], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    argv = shlex.split(report.split("#")[0].replace("multirun/bias_vs_width/<date_time>", "sweep"))
    out = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ("report.md", "summary.csv", "verdicts.json", "difference.png"):
        assert (tmp_path / "sweep" / name).is_file()
    # enough seeds for a verdict: with two, every group read "need 3" usable pairs
    verdicts = json.loads((tmp_path / "sweep" / "verdicts.json").read_text())
    assert [len(c["diffs"]) for c in verdicts["comparisons"]] == [3, 3]


def test_interactions_shown_per_claim_and_kept_out_of_the_family():
    from biaslab.report.answer_gain import gain_cell, gains_of
    from biaslab.report.claims import Claim

    xs = [
        {"key": "model.width", "reference": "16", "context": "model.norm=none", "kind": "same"},
        {"key": "model.width", "reference": "16", "context": "model.norm=batch", "kind": "larger"},
    ]
    data = {"interaction_key": "model.width", "interactions": xs}
    none = Claim("r", "c", "d", {"model.norm": "none"})
    assert gains_of(none, data) == xs[:1]
    assert gains_of(Claim("r", "c", "d"), data) == xs
    # a split on the interaction's own key: the test compares the two halves, both see it
    across = {"interaction_key": "model.norm", "interactions": xs}
    assert gains_of(none, across) == xs
    assert gain_cell(xs) == "width vs 16: larger 1, same 1 (of 2)"
    assert gain_cell([]) == "—"
    ans = answer_mod.answer(RESULTS)
    depth = next(i for i, c in enumerate(CLAIMS) if c.report == "bias_vs_depth")
    assert gains_of(CLAIMS[depth], ans.reports["bias_vs_depth"])  # published
    assert len(ans.family) == sum(v.p is not None for vs in ans.verdicts.values() for v in vs)


def test_nothing_on_the_answer_figure_runs_off_its_edge():
    """Every title, label and verdict word lies inside the figure (a long title in the last
    column once ran off the right edge, cut mid-word)."""
    from matplotlib.text import Text

    from biaslab.report.answer_plot import draw

    fig = draw(answer_mod.answer(RESULTS))
    fig.canvas.draw()
    renderer, page = fig.canvas.get_renderer(), fig.bbox
    cut = [
        t.get_text()
        for t in fig.findobj(Text)
        if t.get_visible()
        and t.get_text().strip()
        and not (
            page.x0 - 1 <= (box := t.get_window_extent(renderer)).x0
            and box.x1 <= page.x1 + 1
            and page.y0 - 1 <= box.y0
            and box.y1 <= page.y1 + 1
        )
    ]
    assert cut == []
