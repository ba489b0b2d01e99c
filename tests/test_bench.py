"""Smoke test of the benchmark: every case and figure is there. No timing assertions: this
machine's speed and load say nothing about the code."""

import json

from biaslab.bench import CASES, main


def test_quick_bench_writes_every_case_and_the_job_overhead(tmp_path, data_dir):
    out = tmp_path / "bench.json"
    main(["--quick", "--out", str(out), "--data-dir", str(data_dir)])
    report = json.loads(out.read_text())

    assert {"torch", "lightning"} <= set(report["versions"])
    assert report["device"]["name"]
    rows = {(c["case"], c["bias"]): c for c in report["cases"]}
    assert set(rows) == {(case, bias) for case in CASES for bias in (True, False)}
    for row in rows.values():
        for path in ("project", "raw"):
            assert row[path]["samples_per_s"] > 0
            assert row[path]["windows"] and all(r > 0 for r in row[path]["windows"])
        assert row["ratio"] > 0

    overhead = report["overhead"]
    assert overhead["jobs"] == 2 and len(overhead["per_job"]) == 2
    median = overhead["median"]
    assert median["overhead_s"] > 0 and median["start_to_first_step_s"] > 0
    assert median["last_step_to_results_s"] > 0 and median["train_loop_s"] > 0
    assert report["e2e"] is None  # only with --e2e
