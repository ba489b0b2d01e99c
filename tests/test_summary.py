"""What a finished job prints when no validation step ran."""

from __future__ import annotations

import math

from biaslab.run.summary import print_members, print_run

PARAMS = {"params/total": 10, "params/bias": 2, "params/norm": 0}
# what train() records for a job whose max_steps ends before the first validation
NO_VAL = {"test/acc": 0.5, "val/acc_best": -math.inf, "val/acc_best_step": -1, "steps": 3}


def test_packed_members_without_validation_print_none(capsys):
    members = [{"seed": s, "status": "completed", "metrics": dict(NO_VAL)} for s in (0, 1)]
    result = {"members": members, "params": PARAMS, "wall_s": 1.0, "results": "out"}
    print_members(result)
    out = capsys.readouterr().out
    assert out.count("none (no validation ran)") == 2
    assert "-inf" not in out and " -1" not in out


def test_packed_member_with_validation_prints_score_and_step(capsys):
    metrics = {**NO_VAL, "val/acc_best": 0.625, "val/acc_best_step": 500}
    members = [{"seed": 0, "status": "completed", "metrics": metrics}]
    print_members({"members": members, "params": PARAMS, "wall_s": 1.0, "results": "out"})
    out = capsys.readouterr().out
    assert "0.6250" in out and "500" in out and "no validation" not in out


def test_lone_run_without_validation_prints_none(capsys):
    result = {"status": "completed", "metrics": dict(NO_VAL), "params": PARAMS, "wall_s": 1.0,
              "results": "out/results.json"}  # fmt: skip
    print_run(result)
    out = capsys.readouterr().out
    assert "none (no validation ran)" in out and "-inf" not in out
