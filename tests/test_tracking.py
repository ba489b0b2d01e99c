"""W&B never blocks or fails a run, and never writes an API key: tiny in-process runs."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from biaslab.run import tracking
from biaslab.run.train import train

from .wandb_records import run_contents

ENV_KEY = "f00dcafe" * 5  # a dummy 40-character W&B API key, easy to spot in any file
CONFIG_KEY = "c0ffee11" * 5
TINY = ("logger=wandb", "trainer.max_steps=5", "trainer.val_check_interval=5", "model.width=8")


@pytest.fixture
def closed_url() -> str:
    """A URL nothing listens on: a free port, bound and released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def online(monkeypatch, closed_url):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", closed_url)
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    return closed_url


def fallback_warnings(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "biaslab.run.tracking" and r.levelno >= logging.WARNING
    ]


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def offline_run(out: Path) -> tuple[dict, dict]:
    """(config, summary) of the one offline run under ``out``. wandb 0.31's ``run.finish()``
    can return before its service has written the config to the run file: wait for it."""
    runs = sorted(out.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 1, sorted(p.name for p in (out / "wandb").iterdir())
    deadline = time.monotonic() + 20
    while True:
        config, summary = run_contents(runs[0])
        if "model" in config or time.monotonic() > deadline:
            return config, summary
        time.sleep(0.2)


def test_unreachable_server_falls_back_to_offline_with_one_warning(
    make_cfg, online, caplog, tmp_path
):
    caplog.set_level(logging.WARNING, logger="biaslab.run.tracking")
    cfg = make_cfg(*TINY)  # composed after the env is set: logger.mode is online
    assert cfg.logger.mode == "online"
    t0 = time.perf_counter()
    result = train(cfg)
    elapsed = time.perf_counter() - t0
    assert result["status"] == "completed"
    assert elapsed < 60, f"the fallback took {elapsed:.1f} s"

    (warning,) = fallback_warnings(caplog)
    message = warning.getMessage()
    assert f"unreachable at {online}" in message
    assert "falling back to offline" in message and "wandb sync" in message

    assert "offline-run-" in result["run"]
    config, summary = offline_run(tmp_path)
    assert config["model"]["width"] == 8
    assert summary["steps"] == 5
    assert not list(tmp_path.glob("wandb/run-*"))  # wandb.init was never tried online

    assert ENV_KEY not in (tmp_path / "results.json").read_text()
    assert files_holding(tmp_path, ENV_KEY) == []


def test_failing_wandb_init_falls_back_to_offline(make_cfg, online, caplog, tmp_path, monkeypatch):
    # The server answers the probe but wandb.init still fails (here: it retries a refused
    # connection until its init_timeout), as with a bad key or a server that stalls.
    monkeypatch.setattr(tracking, "probe", lambda url, timeout: None)
    monkeypatch.setattr(tracking, "INIT_TIMEOUT_S", 3.0)
    caplog.set_level(logging.WARNING, logger="biaslab.run.tracking")
    t0 = time.perf_counter()
    result = train(make_cfg(*TINY))
    elapsed = time.perf_counter() - t0
    assert result["status"] == "completed"
    assert elapsed < 60, f"the fallback took {elapsed:.1f} s"
    (warning,) = fallback_warnings(caplog)
    assert "falling back to offline" in warning.getMessage()
    config, _ = offline_run(tmp_path)
    assert config["model"]["width"] == 8
    # the failed online attempt leaves wandb's folder (its logs say why), with no config
    (attempt,) = tmp_path.glob("wandb/run-*/run-*.wandb")
    assert run_contents(attempt)[0] == {}
    assert files_holding(tmp_path, ENV_KEY) == []


def test_offline_run_warns_nothing_and_writes_no_key(make_cfg, monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    caplog.set_level(logging.WARNING, logger="biaslab.run.tracking")
    # a key in the config (wandb.Settings(api_key=...)), as a config file would put it (an
    # override is refused: tests/test_bad_inputs.py), as well as in the environment
    cfg = make_cfg(*TINY)
    OmegaConf.update(cfg, "logger.settings.api_key", CONFIG_KEY, force_add=True)
    assert train(cfg)["status"] == "completed"
    assert fallback_warnings(caplog) == []

    config, _ = offline_run(tmp_path)
    assert config["model"]["width"] == 8
    assert config["logger"]["settings"]["api_key"] == tracking.REDACTED
    wandb_dir = tmp_path / "wandb"
    assert files_holding(wandb_dir, ENV_KEY) == []
    assert files_holding(wandb_dir, CONFIG_KEY) == []
    assert files_holding(tmp_path, ENV_KEY) == []

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["model"]["width"] == 8
    assert CONFIG_KEY not in (tmp_path / "results.json").read_text()
    assert results["config"]["logger"]["settings"]["api_key"] == tracking.REDACTED


def test_redact_hides_keys_by_name_and_by_value(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", ENV_KEY)
    cfg = {
        "logger": {"settings": {"api_key": CONFIG_KEY, "silent": True}, "name": None},
        "hf_token": "hf_abcdefghijkl",
        "note": f"key={ENV_KEY}",
        "tags": [f"x{CONFIG_KEY}", "plain"],
        "data": {"num_tokens": 128, "token": None},  # not secrets: a count, an empty value
    }
    out = tracking.redact(cfg)
    assert out["logger"]["settings"] == {"api_key": "<redacted>", "silent": True}
    assert out["hf_token"] == "<redacted>"
    assert out["note"] == "key=<redacted>"
    assert out["tags"] == ["x<redacted>", "plain"]
    assert out["data"] == {"num_tokens": 128, "token": None}
    assert cfg["logger"]["settings"]["api_key"] == CONFIG_KEY  # the input is left alone


def test_probe_is_quick_and_never_hangs(closed_url):
    t0 = time.perf_counter()
    assert "refused" in tracking.probe(closed_url, timeout=1.0)
    assert not tracking.reachable("https://host.invalid", timeout=1.0)
    assert time.perf_counter() - t0 < 5
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert tracking.reachable(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=1.0)
