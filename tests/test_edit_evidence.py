"""A results.json carries the SHA-256 of its own content: a record edited after its run is left
out of the report (unless --allow-modified) and refused by resume=true; the records written
before digests read as they always did."""

from __future__ import annotations

import json

import pytest

from biaslab.config import ConfigError
from biaslab.records.results import DIGEST, MODIFIED, SEALED, UNSEALED, find_results, integrity
from biaslab.report.cli import main as report_main
from biaslab.report.load import load_files
from biaslab.run.train import main, train

from .conftest import ROOT
from .test_report import bias_sweep


def _edit(path, acc):
    """Change test/acc by hand, the digest left as it was: what a hand edit leaves behind."""
    rec = json.loads(path.read_text())
    rec["metrics"]["test/acc"] = acc
    path.write_text(json.dumps(rec, indent=2) + "\n")


def test_a_record_carries_a_digest_of_its_content(tmp_path):
    bias_sweep(tmp_path, gain=0.03, seeds=range(2))
    for path in find_results(tmp_path):
        rec = json.loads(path.read_text())
        assert len(rec[DIGEST]) == 64 and integrity(rec) == SEALED
    # reformatted, reordered: the same content
    path.write_text(json.dumps(dict(reversed(rec.items()))))
    assert integrity(json.loads(path.read_text())) == SEALED
    _edit(path, 0.99)
    assert integrity(json.loads(path.read_text())) == MODIFIED
    path.write_text(path.read_text().replace("0.99", "NaN"))  # a token no writer emits
    assert integrity(json.loads(path.read_text())) == MODIFIED


def test_the_report_leaves_out_a_record_modified_after_the_run(tmp_path, capsys):
    bias_sweep(tmp_path, gain=0.03, seeds=range(4))
    edited = tmp_path / "w25_s0_t" / "results.json"
    _edit(edited, 0.99)
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Records (8): 7 with a matching {DIGEST}, 1 {MODIFIED} (not used)" in out
    md = (tmp_path / "report.md").read_text()
    assert "Runs: 8 found, 7 used, 1 not used" in md
    assert f"| {edited} | modified | modified after the run: its {DIGEST} does not match" in md
    assert f"- Edit evidence: Records (8): 7 with a matching {DIGEST}" in md

    assert report_main([str(tmp_path), "--allow-modified"]) == 0
    assert "(used: --allow-modified)" in capsys.readouterr().out
    md = (tmp_path / "report.md").read_text()
    assert "Runs: 8 found, 8 used, 0 not used" in md
    assert f"1 {MODIFIED} (used: --allow-modified)" in md


def test_records_from_before_digests_read_as_before(tmp_path, capsys):
    bias_sweep(tmp_path, gain=0.03, seeds=range(3))
    for path in find_results(tmp_path):
        rec = json.loads(path.read_text())
        del rec[DIGEST]
        path.write_text(json.dumps(rec, indent=2) + "\n")
    assert report_main([str(tmp_path)]) == 0
    assert f"Records (6): 6 {UNSEALED}" in capsys.readouterr().out
    md = (tmp_path / "report.md").read_text()
    assert "Runs: 6 found, 6 used, 0 not used" in md and "Edit evidence" not in md
    # the published records: none has a digest, every one is read
    published = find_results(ROOT / "results" / "bias_vs_width")
    runs = load_files(published[:40])
    assert runs and {r.integrity for r in runs} == {UNSEALED}
    assert all(r.status != "modified" for r in runs)


def test_resume_refuses_a_record_modified_after_the_run(make_cfg, tmp_path, capsys):
    train(make_cfg("model.width=2"))
    path = tmp_path / "results.json"
    _edit(path, 0.99)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match="was modified after the run"):
        train(make_cfg("model.width=2", "resume=true"))
    with pytest.raises(SystemExit) as e:
        main(make_cfg("model.width=2", "resume=true"))
    assert e.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: resume=true is not allowed: {path} was modified after the run (its "
        f"{DIGEST} does not match its content): restore it, or start a new run in another "
        "folder (overwrite=true replaces it)"
    )
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
