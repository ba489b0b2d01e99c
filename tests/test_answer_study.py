"""A study on the answer page: its report writes verdicts.json, and the answer counts each of
its cells as the primary evidence for its claims (anytime-valid p, Bonferroni over the plan's
cells as its own correction); the exploratory report it re-decided is listed, not counted."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from biaslab.report import answer as answer_mod
from biaslab.report.answer_data import headline, row_labels
from biaslab.report.answer_page import claim_section, render_page, summary_table
from biaslab.report.claims import CLAIMS, NOT_COUNTED
from biaslab.study.cli import main as study_main
from biaslab.study.plan import read
from tests.conftest import ROOT

RESULTS = ROOT / "results"
STUDY = "bias_vs_norm_study"


PUBLISHED = [
    STUDY,
    "forget_bias_t100_study",
    "forget_bias_t200_study",
    "first_layer_study",
    "bias_vs_width_study",
    "bias_vs_width_256_study",
    "why_regime/mnist1d",
    "why_regime/fashion",
    "why_mechanism/const_channel",
    "why_mechanism/background",
    "why_mechanism/padding",
    "why_mechanism/bias_block_0",
    "why_mechanism/bias_block_1",
    "why_mechanism/bias_block_2",
]


@pytest.mark.parametrize("study", PUBLISHED)
def test_study_report_writes_the_committed_verdicts_json(tmp_path, study):
    folder = tmp_path / study
    shutil.copytree(RESULTS / study, folder)
    (folder / "verdicts.json").unlink()
    (folder / "built_bias.png").unlink(missing_ok=True)  # drawn again from the runs
    assert study_main(["report", str(folder)]) == 0
    assert (folder / "report.md").read_text() == (RESULTS / study / "report.md").read_text()
    if (RESULTS / study / "built_bias.png").exists():
        assert (folder / "built_bias.png").read_bytes() == (
            RESULTS / study / "built_bias.png"
        ).read_bytes()
    fresh = json.loads((folder / "verdicts.json").read_text())
    committed = json.loads((RESULTS / study / "verdicts.json").read_text())
    assert committed["command"] == f"python -m biaslab.study report results/{study}"
    fresh["command"] = committed["command"]  # the scratch folder differs, nothing else may
    assert fresh == committed


def test_each_cell_is_one_comparison_decided_by_its_anytime_p():
    data = json.loads((RESULTS / STUDY / "verdicts.json").read_text())
    plan, plan_hash = read(RESULTS / STUDY)
    assert data["protocol"] == "study" and data["plan_hash"] == plan_hash
    assert len(data["comparisons"]) == plan.m
    for cmp in data["comparisons"]:
        test, p = headline(cmp)
        look = cmp["look"]
        assert f"look {look['k']} of {plan.looks()}" in cmp["verdict"]
        assert f"n = {look['n']}" in cmp["verdict"]
        # decided exactly when the headline anytime p is within the plan's α/m
        assert (cmp["kind"] != "inconclusive") == (p <= plan.alpha_cell()), cmp["verdict"]
        assert test == ("anytime equivalence" if cmp["kind"] == "equivalent" else "anytime t")
        own = cmp["equivalence"]["p_holm"] if cmp["kind"] == "equivalent" else cmp["p_holm"]
        assert own == pytest.approx(min(1.0, plan.m * p))  # Bonferroni over the m cells
        assert len(cmp["usable"]) == look["n"] == cmp["test"]["n"]


def test_the_study_is_the_primary_report_and_bias_vs_norm_is_listed_only():
    ans = answer_mod.answer(RESULTS)
    study = [i for i, c in enumerate(CLAIMS) if c.report == STUDY]
    assert len(study) == 2 and all(CLAIMS[i].protocol == "study" for i in study)
    cells = json.loads((RESULTS / STUDY / "verdicts.json").read_text())["comparisons"]
    counted = [v for i in study for v in ans.verdicts[i]]
    assert sorted(map(id, (v.cmp for v in counted))) == sorted(
        map(id, ans.reports[STUDY]["comparisons"])
    )
    assert [v.cmp for v in counted if v in ans.family] == [v.cmp for v in counted]
    assert sorted(v.cmp["kind"] for v in counted) == sorted(c["kind"] for c in cells)
    assert all(v.claim.report != "bias_vs_norm" for v in ans.family)
    assert "exploratory" in NOT_COUNTED["bias_vs_norm"]
    page = render_page(ans)
    assert "- [bias_vs_norm](bias_vs_norm/report.md): exploratory" in page
    table = summary_table(ans)
    row = next(x for x in table.splitlines() if x.startswith("| A batch norm") and "MNIST-1D" in x)
    assert "| 9–24, sequential | study |" in row and "(98.75 % confidence sequence)" in row
    assert "study Bonferroni p (m·p)" in page


def test_a_study_without_verdicts_json_stops_the_page(tmp_path):
    for md in RESULTS.rglob("report.md"):
        folder = tmp_path / md.parent.relative_to(RESULTS)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(md.parent / "verdicts.json", folder / "verdicts.json")
        shutil.copy(md, folder / "report.md")
    assert answer_mod.answer(tmp_path).family
    (tmp_path / STUDY / "verdicts.json").unlink()
    with pytest.raises(ValueError, match=f"{STUDY}/report.md: no verdicts.json"):
        answer_mod.answer(tmp_path)


def test_headline_names_a_study_test():
    cmp = {"kind": "equivalent", "verdict": "", "identical": False, "twin_of": None,
           "test": {"p": 0.5, "name": "anytime t"}, "p_holm": 1.0, "solve": None,
           "equivalence": {"p": 0.004, "name": "anytime equivalence"}}  # fmt: skip
    assert headline(cmp) == ("anytime equivalence", 0.004)
    assert headline({**cmp, "kind": "helps"}) == ("anytime t", 0.5)


FORGET = "forget_bias_t100_study"


def test_a_log_scale_study_reads_as_ratios_on_the_page():
    ans = answer_mod.answer(RESULTS)
    i = next(i for i, c in enumerate(CLAIMS) if c.report == FORGET)
    data = ans.reports[FORGET]
    assert data["log_scale"] and data["metric"] == "test/mse"
    (v,) = ans.verdicts[i]
    t = v.cmp["test"]
    lo, mean, hi = (f"×{math.exp(t[k]):.3g}" for k in ("ci_low", "diff", "ci_high"))
    ratio = f"{mean} [{lo}, {hi}]"
    row = next(x for x in summary_table(ans).splitlines() if f"[{FORGET}]" in x)
    assert ratio in row and "| study, fixed lr |" in row
    section = claim_section(ans, i)
    assert "margin ×0.8 to ×1.25;" in section and "geometric mean ratio to `null`" in section
    assert ": no tuning, fresh seeds in batches" in section and "tuning seeds" not in section
    assert f"| all | 1 | {v.cmp['kind']} (n = {v.cmp['look']['n']}" in section
    assert ratio in section
    assert row_labels([v], data["group_keys"]) == ["1"]  # one cell: the arm alone
    assert v.cmp["verdict"].startswith(f"{v.cmp['kind']}: ×{math.exp(t['diff']):.3f} [×")
    # the exploratory report stays primary for its own cells: the study re-decides one arm at
    # one length, on other seeds, and is counted beside it
    assert any(w.claim.report == "forget_bias" for w in ans.family)


def test_a_claim_narrowed_to_one_group_names_its_row_by_that_group():
    # width 256 is its own row beside the study of widths 2-128: a row that read "true" would
    # not say which width it is
    ans = answer_mod.answer(RESULTS)
    i = next(i for i, c in enumerate(CLAIMS) if c.report == "bias_vs_width_256_study")
    (row,) = ans.verdicts[i]
    assert row_labels([row], ans.reports[CLAIMS[i].report]["group_keys"]) == ["width=256"]
