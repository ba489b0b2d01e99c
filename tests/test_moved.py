"""Classes that moved into a folder keep working under the paths published records name them
by: they resolve, a recorded fingerprint still matches (so such a run resumes), and the report
pools runs recorded under the old and the new path."""

from __future__ import annotations

import copy
import importlib
import json

from hydra.utils import get_class

import biaslab
from biaslab.callbacks.shift_eval import ShiftEval
from biaslab.callbacks.sweep_summary import FailedJobsSummary
from biaslab.config.compose import ROOT
from biaslab.records.moved import MOVED, current, historical
from biaslab.report.analysis import swept_keys
from biaslab.report.load import from_record
from biaslab.resume import fingerprint

# a published record of a run with the shifted-input test (callbacks=shift_eval)
PUBLISHED = ROOT / "results/images_bias_vs_width/runs/3/seed=0/results.json"
OLD, NEW = "biaslab.shift_eval.ShiftEval", "biaslab.callbacks.shift_eval.ShiftEval"


def test_old_paths_resolve_to_the_moved_classes():
    assert get_class(OLD) is ShiftEval
    assert get_class("biaslab.sweep_summary.FailedJobsSummary") is FailedJobsSummary
    assert current(OLD) == NEW and historical(NEW) == OLD
    for old, new in MOVED.items():  # every old top-level name is its new module
        parent, _, leaf = old.rpartition(".")
        if parent == "biaslab":
            assert getattr(biaslab, leaf) is importlib.import_module(new)


def test_a_published_fingerprint_matches_under_the_old_and_the_new_path():
    record = json.loads(PUBLISHED.read_text())
    config = record["config"]
    assert config["callbacks"]["shift_eval"]["_target_"] == OLD
    assert fingerprint.of(config)["digest"] == record["fingerprint"]
    renamed = copy.deepcopy(config)
    renamed["callbacks"]["shift_eval"]["_target_"] = NEW
    assert fingerprint.of(renamed)["digest"] == record["fingerprint"]


def test_runs_recorded_under_either_path_pool_into_one_group():
    record = json.loads(PUBLISHED.read_text())
    renamed = copy.deepcopy(record)
    renamed["config"]["callbacks"]["shift_eval"]["_target_"] = NEW
    runs = [from_record(record, "old"), from_record(renamed, "new")]
    assert runs[0].config == runs[1].config
    assert "callbacks.shift_eval._target_" not in swept_keys(runs)
