"""SIGTERM to a ``trainer=ddp_cpu`` run ends it as it ends a one-device run: the ranks stop
together at the end of a step, the checkpoint is saved there, and the record says which step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from .test_records_cli import _alive, _training_ddp_run, _wait


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_sigterm_to_a_ddp_run_saves_and_records_the_step(tmp_path, data_dir):
    proc, run_dir, ranks = _training_ddp_run(
        tmp_path, data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=120)
        assert _wait(lambda: not any(_alive(r) for r in ranks), timeout=30)
    finally:
        for r in ranks:  # never leave them running, whatever the outcome
            if _alive(r):
                os.kill(r, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-2000:]
    stopped = json.loads((run_dir / "results.json").read_text())["interrupted"]
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert stopped["signal"] == "SIGTERM" and stopped["checkpoint"] == str(ckpt)
    assert isinstance(stopped["step"], int) and stopped["step"] > 0
    assert torch.load(ckpt, weights_only=True)["global_step"] == stopped["step"]
    assert err.splitlines()[-1] == (
        f"interrupted by SIGTERM at step {stopped['step']} in {run_dir}: recorded as "
        "interrupted; resume with resume=true"
    ), err[-2000:]
    assert "Traceback" not in err, err[-3000:]
