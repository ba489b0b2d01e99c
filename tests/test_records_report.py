"""The report reads records honestly: interrupted runs and missing jobs are listed, not used;
a wrong-shaped results.json is skipped and listed; secrets never reach report.md."""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from biaslab.records.results import write_results
from biaslab.report.cli import main
from biaslab.report.load import load_files

from .helpers import bias_sweep, write_run

SECRET = "abcd1234secretvalue"


def test_interrupted_and_missing_jobs_and_wrong_shapes_are_listed(tmp_path, capsys):
    sweep = tmp_path / "multirun"
    bias_sweep(sweep, gain=0.05, seeds=range(3))
    write_run(
        sweep,
        "cut",
        seed=9,
        bias=True,
        acc=0.9,
        status="interrupted",
        record={"interrupted": {"signal": "SIGTERM", "step": 120, "checkpoint": None}},
    )
    (sweep / "list").mkdir()
    (sweep / "list" / "results.json").write_text("[1, 2]\n")  # JSON, not a record
    # a basic sweep of 4 jobs (0..3) of which only 0 left a record
    OmegaConf.save(
        {
            "hydra": {
                "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"},
                "sweep": {"dir": str(sweep), "subdir": "${hydra.job.num}"},
                "overrides": {"task": ["model.bias=true,false", "seed=0,1", f"+x.token={SECRET}"]},
            }
        },
        sweep / "multirun.yaml",
    )
    write_run(sweep, "0", seed=5, bias=True, acc=0.8)
    runs = {r.source.split("/")[-2]: r for r in load_files([sweep])}
    assert runs["list"].status == "unreadable" and "not a results.json" in runs["list"].error
    assert runs["cut"].error == "interrupted by SIGTERM at step 120"
    assert main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "3 of 4 jobs missing" in out
    md = (sweep / "report.md").read_text()
    assert SECRET not in md and "+x.token=<redacted>" in md
    for job in ("1", "2", "3"):
        assert f"{sweep / job} | missing" in md
    assert "interrupted by SIGTERM at step 120" in md and "not a results.json" in md


def test_unknown_metric_gets_a_did_you_mean_and_no_usable_run_exits_1(tmp_path, capsys):
    bias_sweep(tmp_path, gain=0.05, seeds=range(2))
    assert main([str(tmp_path), "--metric", "test/accuracy"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --metric test/accuracy is not recorded by any run (did you mean test/acc?)"
    )
    for path in tmp_path.rglob("results.json"):
        rec = json.loads(path.read_text())
        write_results(path.parent, {**rec, "status": "interrupted"})
    assert main([str(tmp_path)]) == 1
    for path in tmp_path.rglob("results.json"):  # edited by hand: modified, not used either
        path.write_text(path.read_text().replace('"interrupted"', '"completed"'))
    assert main([str(tmp_path)]) == 1
