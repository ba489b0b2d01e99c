"""A study's end-of-run measures (biaslab.study.measures): report.md's "End-of-run measures"
holds, per cell and arm, the means over the runs the verdicts read (failed runs left out and
counted; tuning, exploratory and not-yet-read runs never enter), built_bias.png is drawn from
the same runs, a rerun writes the same bytes, and a study without the measures has neither."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from biaslab.records.results import write_results
from biaslab.study import measures, progress, records
from biaslab.study import run as study_run
from biaslab.study.cli import main
from biaslab.study.plan import Plan, write

LAYERS = 3
FAILED = {("true", "4", 1001), ("false", "8", 1004)}  # at chance on validation


def make_plan(cells: dict[str, list[str]]) -> Plan:
    m = int(np.prod([len(v) for v in cells.values()]))
    return Plan(name="t", experiment="bias_vs_norm", arms=["true", "false"], cells=cells,
                tune="optimizer.lr", grid=["0.01", "0.03"], validation_rule="stated",
                delta=0.01, alpha=0.05, c2=0.5, batch=3, cap=9, budget=100 * m, m=m,
                tuning_seeds=[100], confirm_start=1000, failed_rule="stated",
                fail_at_most=0.15)  # fmt: skip


def shares(bias: str, where: dict[str, str], seed: int) -> dict[str, float]:
    """Deeper layers build more of a constant, more so without a bias; seeds differ."""
    wiggle = ((seed * 7919) % 13) / 13
    out = {}
    for i in range(LAYERS):
        built = (0.15 + 0.2 * i + 0.05 * wiggle) * (0.5 if bias == "true" else 1.0)
        out[f"built_bias/conv{i}"] = built
        norm = where.get("model.norm") == "batch"
        out[f"const_share/conv{i}"] = 0.01 * wiggle if norm else (0.3 if bias == "true" else built)
    return out


def metrics(bias, where, lr, seed, kinds, failed=False) -> dict[str, float]:
    wiggle = ((seed * 104729) % 17) / 17
    out = {
        "test/acc": 0.8 + 0.02 * ((seed * 7 + 5 * (bias == "true")) % 11) / 11,
        "val/acc": 0.1 if failed else 0.7 + 0.1 * (lr == "0.03"),
    }
    out["val/acc_best"] = out["val/acc"]
    if "train" in kinds:
        out["train_full/acc"] = 1.0 if seed % 3 else 0.9985 - 0.001 * wiggle
        out["train_full/loss"] = 0.002 + 0.01 * wiggle + (0.005 if bias == "true" else 0.0)
    if "built" in kinds:
        out.update(shares(bias, where, seed))
    if failed:  # far off, so a mean that kept it would show
        out.update({k: 0.0 for k in out if k.startswith(("train_full/acc", "built_bias/"))})
    return out


def record(folder, h, bias, where, lr, seed, kinds, failed=False):
    cfg = {"model": {"bias": bias == "true"}, "optimizer": {"lr": float(lr)}, "seed": seed,
           "study": {"plan_hash": h}}  # fmt: skip
    for key, v in where.items():
        cfg["model"][key.split(".")[1]] = int(v) if v.isdigit() else v
    name = "-".join([bias, *where.values(), lr, str(seed)])
    values = metrics(bias, where, lr, seed, kinds, failed)
    write_results(folder / name, dict(status="completed", seed=seed, config=cfg, metrics=values))


def fake_study(folder, cells, kinds=("train", "built"), looks=2):
    """Stage 1 on seeds 100-102 (lr 0.03 wins), ``looks`` full rounds of confirmation, and a third
    round with only the first arm recorded: it waits, and its runs are in no verdict yet; and
    an exploratory run. Every run recorded ``kinds`` of measures."""
    plan = make_plan(cells)
    h = write(plan, folder)
    places = [dict(zip(cells, v, strict=True)) for v in itertools.product(*cells.values())]
    tuning = plan.tuning_seed_list()
    for bias, where, lr, s in itertools.product(plan.arms, places, plan.grid, tuning):
        record(folder / "runs" / "tune", h, bias, where, lr, s, kinds)
    choice, missing = progress.choose(plan, records.read(plan, h, folder))
    assert not missing  # (stage1 would launch them)
    study_run.freeze_choice(folder, h, choice)
    for bias, where, s in itertools.product(plan.arms, places, range(1000, 1000 + 3 * looks)):
        bad = (bias, where.get("model.width"), s) in FAILED
        record(folder / "runs" / "look", h, bias, where, "0.03", s, kinds, bad)
    for where, s in itertools.product(places, range(1000 + 3 * looks, 1003 + 3 * looks)):
        record(folder / "runs" / "waiting", h, "true", where, "0.03", s, kinds)
    record(folder / "x", h, "true", places[0], "0.03", 7, kinds)  # a seed outside the plan
    return plan, h


def section(text: str) -> list[list[str]]:
    """The section's table rows, cells split."""
    part = text.split("## End-of-run measures", 1)[1]
    rows = [x for x in part.splitlines() if x.startswith("| model.")]
    return [[c.strip() for c in x.strip("|").split("|")] for x in rows]


def test_the_section_holds_the_means_of_the_runs_the_verdicts_read(tmp_path):
    plan, h = fake_study(tmp_path, {"model.width": ["4", "8"]})
    state = progress.replay(
        plan, records.read(plan, h, tmp_path), study_run.read_choice(tmp_path, h)
    )
    assert state.missing and [len(c.diffs) for c in state.cells] == [2, 2]  # looks 1-2 read
    assert main(["report", str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    rows = section(text)
    assert [r[:2] for r in rows] == [
        [f"model.width={w}", f"model.bias={b}"] for w in "48" for b in ("true", "false")
    ]
    for row in rows:
        width, bias = row[0].split("=")[1], row[1].split("=")[1]
        where = {"model.width": width}
        seeds = [s for s in range(1000, 1006) if (bias, width, s) not in FAILED]
        runs = [metrics(bias, where, "0.03", s, ("train", "built")) for s in seeds]
        acc = [r["train_full/acc"] for r in runs]
        assert row[2:4] == [str(len(seeds)), str(6 - len(seeds))]
        assert row[4] == f"{100 * np.mean(acc):.2f} (min {100 * min(acc):.2f})"
        assert row[5] == f"{sum(a >= 0.999 for a in acc)}/{len(acc)}"
        assert row[6] == f"{np.mean([r['train_full/loss'] for r in runs]):.3g}"
        for i in range(LAYERS):
            built = [r[f"built_bias/conv{i}"] for r in runs]
            const = np.mean([r[f"const_share/conv{i}"] for r in runs])
            assert row[7 + i] == f"{np.mean(built):.3f} ± {np.std(built, ddof=1):.3f} / {const:.3f}"
    assert sum(row[3] == "1" for row in rows) == len(FAILED)
    assert "![built_bias](built_bias.png)" in text
    # the figure's data: the same runs, one value per seed in seed order
    (width4, _) = measures.panels(plan, state)
    assert width4[0] == "model.width=4"
    true_shares = width4[1][0][1]
    assert true_shares["built_bias/conv"][1] == pytest.approx(
        [shares("true", {}, s)["built_bias/conv1"] for s in (1000, 1002, 1003, 1004, 1005)]
    )


def test_a_rerun_writes_the_same_bytes(tmp_path):
    fake_study(tmp_path, {"model.width": ["4", "8"]})
    assert main(["report", str(tmp_path)]) == 0
    first = [(tmp_path / f).read_bytes() for f in ("report.md", "built_bias.png")]
    (tmp_path / "built_bias.png").unlink()
    assert main(["report", str(tmp_path)]) == 0
    assert [(tmp_path / f).read_bytes() for f in ("report.md", "built_bias.png")] == first
    assert b"Matplotlib" not in first[1]  # no version in the PNG: the same bytes elsewhere


@pytest.mark.parametrize("kinds", [(), ("train",)])
def test_without_the_measures_no_section_and_no_figure(tmp_path, kinds):
    fake_study(tmp_path, {"model.width": ["4", "8"]}, kinds=kinds)
    assert main(["report", str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    assert ("## End-of-run measures" in text) == bool(kinds)
    assert "built_bias" not in text and not (tmp_path / "built_bias.png").exists()
    if kinds:  # only the training split's measures: their columns and no conv columns
        assert len(section(text)[0]) == 7
