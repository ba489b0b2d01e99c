"""The report on results.json files with known answers (no training)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from biaslab import report
from biaslab.records.results import write_results
from biaslab.report import stats

from .helpers import NOISE, bias_sweep, build, write_run


def test_bias_that_helps_is_found(tmp_path):
    bias_sweep(tmp_path, gain=0.03)
    rep = build(tmp_path)
    assert rep.baseline is False
    assert rep.group_keys == []  # paths, shuffle seed etc. differ per run but do not group
    (group,) = rep.groups
    (cmp,) = group.comparisons
    assert cmp.n_pairs == 5
    assert cmp.test.ci_low < 0.03 < cmp.test.ci_high
    assert cmp.test.ci_low > 0
    assert cmp.verdict.startswith("bias helps: +3.")
    assert "pts" in cmp.verdict


def test_runs_with_and_without_a_fused_optimizer_pool_into_one_group(tmp_path):
    # a sweep from before optimizer.fused existed, pooled with one that records it
    for s in range(5):
        fused = {"optimizer": {"lr": 0.01, "fused": True}} if s % 2 else {"optimizer": {"lr": 0.01}}
        write_run(tmp_path, f"s{s}_f", seed=s, bias=False, acc=0.70 + NOISE[s], extra=fused)
        write_run(tmp_path, f"s{s}_t", seed=s, bias=True, acc=0.73 + NOISE[s], extra=fused)
    rep = build(tmp_path)
    assert rep.group_keys == []
    assert rep.groups[0].comparisons[0].n_pairs == 5


def test_runs_that_differ_only_in_checkpointing_pool_into_one_group(tmp_path):
    # a sweep that checkpointed every 500 steps pooled with one that did not (their runs learn
    # alike: tests/test_reliability.py)
    for s in range(5):
        ckpt = {"checkpoint": {"every_n_steps": 500 if s % 2 else None, "at_end": True}}
        write_run(tmp_path, f"s{s}_f", seed=s, bias=False, acc=0.70 + NOISE[s], extra=ckpt)
        write_run(tmp_path, f"s{s}_t", seed=s, bias=True, acc=0.73 + NOISE[s], extra=ckpt)
    rep = build(tmp_path)
    assert rep.group_keys == []
    assert rep.groups[0].comparisons[0].n_pairs == 5


def test_equal_arms_are_equivalent_within_the_margin(tmp_path):
    bias_sweep(tmp_path, gain=0.0)
    rep = build(tmp_path)
    # The noise (SD 0.2 pts per run) makes the arms differ a little: the 90 % interval of the
    # difference lies well inside ±1 pt, and the difference is not significant.
    (cmp,) = rep.groups[0].comparisons
    assert cmp.kind == "equivalent"
    assert cmp.verdict.startswith("equivalent within ±1 pt: 90 % CI [")
    assert -0.01 < cmp.equivalence.ci_low < 0 < cmp.equivalence.ci_high < 0.01
    assert cmp.test.ci_low < 0 < cmp.test.ci_high
    # a margin narrower than the interval: no longer equivalent, and the seeds it would need
    narrow = build(tmp_path, margin=0.0005)
    (cmp,) = narrow.groups[0].comparisons
    assert cmp.kind == "inconclusive" and "±0.05 pts needs ≈" in cmp.verdict
    n, args = cmp.seeds_needed, (cmp.sd, 0.0005, cmp.test.diff)
    assert stats.tost_power(n, *args) >= 0.8 > stats.tost_power(n - 1, *args)


def test_exactly_equal_arms(tmp_path):
    for s in range(3):
        for bias in (False, True):
            write_run(tmp_path, f"s{s}_{bias}", seed=s, bias=bias, acc=0.8)
    (cmp,) = build(tmp_path).groups[0].comparisons
    # not identical runs (the bias adds parameters), but every difference is exactly 0
    assert not cmp.identical
    assert cmp.verdict.startswith("equivalent within ±1 pt: 90 % CI [0.0, 0.0]")


def test_bias_that_hurts(tmp_path):
    bias_sweep(tmp_path, gain=-0.05)
    (cmp,) = build(tmp_path).groups[0].comparisons
    assert cmp.verdict.startswith("bias hurts: -5.")


def test_baseline_option_flips_the_comparison(tmp_path):
    bias_sweep(tmp_path, gain=0.03)
    rep = build(tmp_path, baseline="true")
    assert rep.baseline is True
    (cmp,) = rep.groups[0].comparisons
    assert cmp.value is False
    assert cmp.verdict.startswith("bias=false hurts: -3.")
    with pytest.raises(ValueError, match="not among"):
        build(tmp_path, baseline="auto")


def test_non_boolean_baseline_is_first_in_sorted_order(tmp_path):
    for s in range(3):
        for width in (64, 8, 16):
            write_run(
                tmp_path,
                f"s{s}_w{width}",
                seed=s,
                bias=True,
                width=width,
                acc=0.5 + width / 200 + NOISE[s + width % 50],
            )
    rep = build(tmp_path, compare="model.width")
    assert rep.baseline == 8
    assert [a.value for a in rep.groups[0].arms] == [8, 16, 64]
    assert [c.verdict.split(":")[0] for c in rep.groups[0].comparisons] == [
        "width=16 helps",
        "width=64 helps",
    ]


def test_lower_is_better_metric(tmp_path):
    bias_sweep(tmp_path, gain=0.03)  # test/loss = 1 - acc: bias lowers the loss by 0.03
    (cmp,) = build(tmp_path, metric="test/loss").groups[0].comparisons
    assert cmp.test.diff == pytest.approx(-0.03, abs=0.005)
    assert cmp.verdict.startswith("bias helps: -0.0")
    assert "pts" not in cmp.verdict  # raw units for losses
    md = report.render_markdown(build(tmp_path, metric="test/loss"))
    assert "lower is better" in md


def _mse_runs(root: Path, base: float, gain: float):
    for s in range(5):
        for bias in (False, True):
            value = base - (gain if bias else 0.0) + NOISE[s + 10 * bias]
            write_run(
                root, f"s{s}_{bias}", seed=s, bias=bias, metrics={"test/mse_over_baseline": value}
            )


def test_over_baseline_metric_that_beats_no_trivial_predictor_is_inconclusive(tmp_path):
    _mse_runs(tmp_path, base=1.02, gain=0.05)  # a real difference, both arms no better than 1.0
    (cmp,) = build(tmp_path, metric="test/mse_over_baseline").groups[0].comparisons
    diffs = list(cmp.diffs.values())
    assert report.stats.paired_test(diffs, [0.0] * 5).p < 0.05  # what v1 would have tested
    assert cmp.test is None and cmp.usable == []
    assert cmp.verdict.startswith("inconclusive: no pair where both arms learned (5 of 5")
    assert all("≥ 0.9" in why for _, why in cmp.not_learned)


def test_over_baseline_metric_with_an_arm_below_cutoff_gets_a_verdict(tmp_path):
    _mse_runs(tmp_path, base=0.5, gain=0.05)
    (cmp,) = build(tmp_path, metric="test/mse_over_baseline").groups[0].comparisons
    assert cmp.verdict.startswith("bias helps: -0.05")


def test_failed_diverged_and_incomplete_runs_are_listed(tmp_path):
    bias_sweep(tmp_path, gain=0.03)
    write_run(
        tmp_path,
        "crashed",
        seed=7,
        bias=True,
        status="failed",
        metrics={},
        error={"type": "RuntimeError", "message": "CUDA out of memory"},
    )
    write_run(
        tmp_path, "nan", seed=8, bias=True, status="diverged", metrics={"test/acc": float("nan")}
    )
    write_run(tmp_path, "nometric", seed=9, bias=True, metrics={"val/acc": 0.5})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")
    rep = build(tmp_path)
    assert len(rep.problems) == 4
    out = tmp_path / "out"
    md = report.write_outputs(rep, out).read_text()
    section = md.split("## Runs not used")[1].split("## Seeds")[0]
    assert "crashed" in section and "RuntimeError: CUDA out of memory" in section
    assert "diverged" in section and "no test/acc in metrics" in section
    assert "unreadable" in section
    # The completed runs still give the verdict, computed without the problem runs.
    assert rep.groups[0].comparisons[0].n_pairs == 5


def test_unequal_seeds_are_reported(tmp_path):
    bias_sweep(tmp_path, gain=0.03, seeds=range(5), true_seeds=[0, 1, 2, 3, 5, 6])
    rep = build(tmp_path)
    (cmp,) = rep.groups[0].comparisons
    assert cmp.n_pairs == 4
    assert cmp.only_value == [5, 6] and cmp.only_baseline == [4]
    seeds = report.render_markdown(rep).split("## Seeds")[1]
    assert "seeds only with `true`: 5, 6" in seeds
    assert "seeds only with `false`" in seeds and ": 4" in seeds
    # The arm keeps every seed it ran: unpaired seeds count in its mean, not in the pairing.
    assert rep.groups[0].arms[1].n == 6


def test_too_few_paired_seeds(tmp_path):
    bias_sweep(tmp_path, gain=0.03, seeds=[0, 1], true_seeds=[1, 2])
    (cmp,) = build(tmp_path).groups[0].comparisons
    assert cmp.verdict == "inconclusive: 1 usable pairs, need 3"
    assert cmp.test is None


def test_grouping_by_width_gives_one_verdict_per_width_and_plots(tmp_path):
    bias_sweep(tmp_path, gain=0.03, widths=(8, 16, 32))
    rep = build(tmp_path)
    assert rep.swept == ["model.bias", "model.width"]
    assert [g.label for g in rep.groups] == ["model.width=8", "model.width=16", "model.width=32"]
    assert all(len(g.comparisons) == 1 for g in rep.groups)
    assert all(g.comparisons[0].verdict.startswith("bias helps") for g in rep.groups)
    md = report.write_outputs(rep, tmp_path / "out").read_text()
    assert md.count("bias helps") >= 3
    # the answer plot (paired differences against width), then the level plot
    assert [p.name for p in rep.plots] == ["difference.png", "sweep.png"]
    assert all(p.stat().st_size > 1000 for p in rep.plots)
    assert all(f"]({p.name})" in md for p in rep.plots)


def test_one_figure_per_combination_of_other_swept_keys(tmp_path):
    for steps in (100, 200):
        root = tmp_path / f"steps{steps}"
        bias_sweep(root, gain=0.03, seeds=range(3), widths=(8, 16))
        for f in root.rglob("results.json"):  # give this half another trainer.max_steps
            text = f.read_text().replace('"max_steps": 100', f'"max_steps": {steps}')
            write_results(f.parent, json.loads(text))  # written as a run of it would be
    rep = build(tmp_path)
    assert rep.group_keys == ["model.width", "trainer.max_steps"]
    assert len(rep.groups) == 4
    report.write_outputs(rep, tmp_path / "out")
    assert sorted(p.name for p in rep.plots) == [
        "difference.png",
        "sweep_00_trainer.max_steps=100.png",
        "sweep_01_trainer.max_steps=200.png",
    ]
    assert all(p.stat().st_size > 0 for p in rep.plots)


def test_many_series_put_the_difference_legend_below_the_axes(tmp_path):
    # 5 series against width (as overparam's grid of decay × dropout): inside the axes the
    # legend covered the widest points; below them, the figure grows by its rows
    import matplotlib.image

    for steps in (100, 200, 300, 400, 500):
        root = tmp_path / f"steps{steps}"
        bias_sweep(root, gain=0.03, seeds=range(3), widths=(8, 16))
        for f in root.rglob("results.json"):
            text = f.read_text().replace('"max_steps": 100', f'"max_steps": {steps}')
            write_results(f.parent, json.loads(text))
    report.write_outputs(build(tmp_path), tmp_path / "out")
    height = matplotlib.image.imread(tmp_path / "out" / "difference.png").shape[0]
    assert height > 4.0 * 120  # taller than the 4-inch figure of a few series, at 120 dpi


def test_without_a_width_sweep_one_figure_shows_every_group(tmp_path):
    bias_sweep(tmp_path, gain=0.03)
    md = report.write_outputs(build(tmp_path), tmp_path / "out").read_text()
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "difference.png",
        "groups.png",
    ]
    assert "![groups](groups.png)" in md


def test_provenance_names_the_sweep_command_and_versions(tmp_path):
    bias_sweep(tmp_path, gain=0.03)
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task:\n    - +experiment=first_layer\n    - seed=0,1\n"
    )
    assert report.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "report.md").read_text()
    assert "- Runs launched by: `python train.py -m +experiment=first_layer seed=0,1`" in md


def _cnn(bias: bool, **added) -> dict:
    model = {"_target_": "biaslab.models.cnn.CNN", "width": 25, "depth": 3, "bias": bias}
    return {"model": {**model, "kernel_size": [5, 3, 3], **added}}


def test_records_from_before_a_key_existed_pool_with_those_at_its_old_value(tmp_path):
    # seeds 0-2 recorded before model.padding_mode existed (they ran with zero padding)
    for s in range(6):
        for bias in (False, True):
            added = {"padding_mode": "zeros"} if s >= 3 else {}
            acc = 0.70 + 0.03 * bias + NOISE[s]
            write_run(
                tmp_path, f"s{s}_{bias}", seed=s, bias=bias, acc=acc, extra=_cnn(bias, **added)
            )
    rep = build(tmp_path)
    assert rep.group_keys == []
    assert rep.groups[0].comparisons[0].n_pairs == 6


def test_a_sweep_of_an_added_key_groups_older_records_at_its_old_value(tmp_path):
    modes = {0: {}, 1: {"padding_mode": "zeros"}, 2: {"padding_mode": "circular"}}
    for s in range(9):
        for bias in (False, True):
            added, acc = modes[s % 3], 0.70 + 0.03 * bias + NOISE[s]
            write_run(
                tmp_path, f"s{s}_{bias}", seed=s, bias=bias, acc=acc, extra=_cnn(bias, **added)
            )
    rep = build(tmp_path)
    assert rep.group_keys == ["model.padding_mode"]
    pairs = {g.key: g.comparisons[0].n_pairs for g in rep.groups}
    assert pairs == {
        (("model.padding_mode", "circular"),): 3,
        (("model.padding_mode", "zeros"),): 6,
    }


def test_an_added_key_is_not_filled_in_for_another_model(tmp_path):
    mlp = {"_target_": "biaslab.models.mlp.MLP", "width": 25, "depth": 3}
    for s in range(3):
        for bias in (False, True):
            cnn, other = _cnn(bias, padding_mode="zeros"), {"model": {**mlp, "bias": bias}}
            for name, acc, extra in ((f"c{s}_{bias}", 0.7, cnn), (f"m{s}_{bias}", 0.6, other)):
                write_run(tmp_path, name, seed=s, bias=bias, acc=acc + NOISE[s], extra=extra)
    rep = build(tmp_path)
    assert "model.padding_mode" in rep.swept  # the MLP has none: not "zeros"
    mlp_group = [g for g in rep.groups if ("model._target_", mlp["_target_"]) in g.key]
    assert ("model.padding_mode", None) in mlp_group[0].key


def test_bookkeeping_keys_do_not_split_groups(tmp_path):
    for s in range(3):
        for bias in (False, True):
            write_run(
                tmp_path,
                f"s{s}_{bias}",
                seed=s,
                bias=bias,
                acc=0.7,
                extra={
                    "train": {"parallel_jobs": s + 1},
                    "hydra": {"job": {"num": s}},
                    "tags": [f"t{s}"],
                },
            )
    assert build(tmp_path).group_keys == []


def test_csv_columns(tmp_path):
    bias_sweep(tmp_path, gain=0.03, widths=(8, 16))
    report.write_outputs(build(tmp_path), tmp_path / "out")
    with (tmp_path / "out" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["model.width", "model.bias", *report.CSV_STATS]
    for col in ("mean", "std", "n", "diff", "ci_low", "ci_high", "p", "verdict"):
        assert col in rows[0]
    assert len(rows) == 4  # 2 widths x 2 compared values
    treated = [r for r in rows if r["model.bias"] == "true"]
    assert all(float(r["ci_low"]) < 0.03 < float(r["ci_high"]) for r in treated)
    assert all(r["verdict"].startswith("bias helps") for r in treated)
    base = [r for r in rows if r["model.bias"] == "false"]
    assert all(r["diff"] == "" and r["verdict"] == "baseline" for r in base)
    assert {r["n"] for r in rows} == {"5"}
    # counts are whole numbers; an empty cell, not a dash, where no seed is unpaired
    assert [r["params_total"] for r in rows if r["model.width"] == "8"] == ["800", "880"]
    assert {r["unpaired_seeds"] for r in rows} == {""}


def test_cli_main_writes_the_report(tmp_path, capsys):
    bias_sweep(tmp_path, gain=0.03, widths=(8, 16))
    assert report.main([str(tmp_path)]) == 0
    md = (tmp_path / "report.md").read_text()
    assert f"python -m biaslab.report {tmp_path}" in md
    assert "two-sided paired t-test" in md
    assert (tmp_path / "summary.csv").exists()
    assert list(tmp_path.glob("*.png"))
    assert "bias helps" in capsys.readouterr().out

    pattern = str(tmp_path / "w8_*" / "results.json")
    out = tmp_path / "elsewhere"
    assert report.main([pattern, "--metric", "test/loss", "--out", str(out)]) == 0
    assert "test/loss" in (out / "report.md").read_text()


def test_cli_errors(tmp_path, capsys):
    assert report.main([]) == 2
    assert report.main([str(tmp_path)]) == 2  # no results.json there
    assert capsys.readouterr().err.splitlines() == [
        "error: give at least one PATH or --wandb ENTITY/PROJECT",
        f"error: no runs found in {tmp_path}: no results.json under it",
    ]
    bias_sweep(tmp_path, gain=0.03)
    assert report.main([str(tmp_path), "--compare", "model.nonexistent"]) == 2
    assert "model.nonexistent" in capsys.readouterr().err


class FakeApi:
    """Stands in for wandb.Api(): records the query, returns public-API-shaped runs."""

    def __init__(self, runs):
        self._runs, self.calls = runs, []

    def runs(self, path, filters=None):
        self.calls.append((path, filters))
        return self._runs


def fake_wandb_run(seed, bias, acc, state="finished"):
    config = {
        "seed": seed,
        "model": {"bias": bias, "width": 8},
        "paths": {"output_dir": f"/x/{seed}{bias}"},
        "_wandb": {"cli_version": "0.31"},
    }
    summary = {
        "test/acc": acc,
        "params/total": 900,
        "params/bias": 80 if bias else 0,
        "_step": 10,
        "_runtime": 3.2,
    }
    return SimpleNamespace(
        config=config,
        summary=summary,
        state=state,
        id=f"r{seed}{bias}",
        url=f"https://wandb.ai/me/biaslab/runs/r{seed}{bias}",
    )


def test_wandb_runs_are_converted():
    runs = [
        fake_wandb_run(s, b, 0.7 + 0.01 * s + (0.03 if b else 0) + NOISE[s + 8 * b])
        for s in range(4)
        for b in (False, True)
    ]
    runs.append(fake_wandb_run(9, True, None, state="crashed"))
    api = FakeApi(runs)
    loaded = report.load_wandb("me/biaslab", group="sweep1", api=api)
    assert api.calls == [("me/biaslab", {"group": "sweep1"})]
    first = loaded[0]
    assert first.status == "completed" and first.seed == 0
    assert first.config["model.bias"] is False and "_wandb" not in first.config
    assert first.params == {"params/total": 900, "params/bias": 0}
    assert first.metrics == {"test/acc": runs[0].summary["test/acc"]}
    assert loaded[-1].status == "failed" and "crashed" in loaded[-1].error

    rep = report.build_report(loaded)
    assert rep.problems == [(runs[-1].url, "failed", "W&B run state: crashed")]
    assert rep.groups[0].comparisons[0].verdict.startswith("bias helps")


def test_cli_reads_wandb_through_the_api(monkeypatch, tmp_path):
    runs = [fake_wandb_run(s, b, 0.7 + 0.01 * s) for s in range(3) for b in (False, True)]
    api = FakeApi(runs)
    # The report imports wandb only on this path: a stand-in module keeps the test offline.
    monkeypatch.setitem(sys.modules, "wandb", SimpleNamespace(Api=lambda: api))
    monkeypatch.chdir(tmp_path)
    assert report.main(["--wandb", "me/biaslab", "--group", "g"]) == 0
    assert api.calls == [("me/biaslab", {"group": "g"})]
    # same metrics and params/total in every pair: the rule for identical runs
    assert "identical runs" in (tmp_path / "report" / "report.md").read_text()


def test_batch_norm_groups_get_the_identity_section(tmp_path):
    for s in range(3):
        for bias in (True, False):
            for norm in ("batch", "none"):
                write_run(
                    tmp_path,
                    f"{norm}_{bias}_{s}",
                    seed=s,
                    bias=bias,
                    acc=0.7 + 0.01 * s,
                    extra={"model": {"width": 25, "bias": bias, "norm": norm}},
                )
    rep = report.build_report(report.load_files([tmp_path]))
    text = report.render_markdown(rep)
    assert "## The batch-norm identity" in text
    section = text.split("## The batch-norm identity")[1].split("##")[0]
    assert "model.norm=batch" in section and "model.norm=none" not in section
    # comparing anything but the bias says nothing about it
    other = report.render_markdown(
        report.build_report(
            report.load_files([tmp_path]), report.ReportOptions(compare="model.norm")
        )
    )
    assert "batch-norm identity" not in other


def test_provenance_flags_runs_made_with_different_versions():
    def run(torch_version, commit):
        return report.Run(
            "x",
            "completed",
            0,
            {},
            provenance={
                "versions": {"torch": torch_version},
                "git_commit": commit,
                "device": "cpu",
                "total_s": 10.0,
            },
        )

    lines = report.provenance(
        [run("2.13.0", "a" * 40), run("2.13.0", "a" * 40), run("2.14.1", "b" * 40)]
    )
    assert "- Software: torch 2.13.0 (2 runs); torch 2.14.1 (1 runs)" in lines
    assert f"- Code (git commit): {'a' * 12} (2 runs); {'b' * 12} (1 runs)" in lines
    assert "- Wall time: 0.5 min over 3 runs (median 10.0 s, max 10.0 s per run)" in lines


def test_seed_parallel_members_count_their_job_time_once(tmp_path):
    for job, seconds in (("a", 50.0), ("b", 70.0)):
        for member in range(3):
            write_run(
                tmp_path,
                f"{job}{member}",
                seed=member,
                bias=job == "b",
                acc=0.8,
                record={
                    "seed_parallel": {"job_dir": job, "member": member},
                    "timing": {"total_s": seconds},
                },
            )
    lines = report.provenance(report.load_files([tmp_path]))
    assert "- Wall time: 2.0 min over 2 jobs (6 runs) (median 60.0 s, max 70.0 s per job)" in lines


def test_an_unreadable_record_beside_added_keys_splits_nothing(tmp_path):
    # its config is empty: nothing is filled in, so it cannot make every key look swept
    for s in range(3):
        for bias in (False, True):
            extra = {**_cnn(bias, padding_mode="zeros"), "train": {"steps_per_call": 10}}
            write_run(tmp_path, f"s{s}_{bias}", seed=s, bias=bias, acc=0.7 + NOISE[s], extra=extra)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")
    rep = build(tmp_path)
    assert rep.group_keys == [] and rep.groups[0].comparisons[0].n_pairs == 3
