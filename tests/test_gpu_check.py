"""scripts/gpu_check.sh's measurement, dry-run on the CPU: every part runs and lands in the
JSON and the markdown. No timing thresholds."""

import json

from biaslab.bench import gpu_check


def test_gpu_check_dry_run_writes_every_part(tmp_path, data_dir):
    out = tmp_path / "gpu_check"
    report = gpu_check.main(["--dry-run", "--out", str(out), "--data-dir", str(data_dir)])
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["dry_run"] is True and saved["device"]["name"]
    for part in ("throughput", "parallel_seeds", "default_run"):
        assert "error" not in report[part], report[part].get("error")
    cases = report["throughput"]["cases"]
    assert {(c["case"], c["bias"]) for c in cases} == {("cnn2d-w8", True), ("cnn2d-w8", False)}
    assert report["throughput"]["settings"]["channels_last"] is True
    assert report["parallel_seeds"]["parallel_seeds"]["k"] == 2
    run = report["default_run"]
    assert run["steps"] == 20 and 0 <= run["test/acc"] <= 1
    assert "trainer=cpu" in run["command"]  # the dry run; on a GPU: trainer=gpu
    md = out.with_suffix(".md").read_text()
    assert saved["device"]["name"] in md and "not a measurement" in md
    assert "| cnn2d-w8 | false |" in md and "Seed-parallel, width 8, K=2" in md


def test_channels_last_batches_in_both_paths():
    import torch

    from biaslab.bench.cases import SyntheticImages

    data = SyntheticImages(num_samples=8, test_samples=4, channels_last=True, batch_size=4)
    x, y = data.on_after_batch_transfer((torch.randn(4, 3, 8, 8), torch.zeros(4)), 0)
    assert x.is_contiguous(memory_format=torch.channels_last)
