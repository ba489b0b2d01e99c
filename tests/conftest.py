"""Tests compose the real configs from conf/ with tiny budgets and run them in-process; the
user's commands run as ``python train.py ...`` subprocesses through :func:`run_cli`."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from omegaconf import DictConfig

from biaslab.config.compose import CONF_DIR, ROOT, compose_job
from biaslab.data import local_copy

CONF = CONF_DIR  # the tests read conf/ to list options and presets

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# W&B offline and quiet whatever the caller's shell says: the tests need no account
CLI_ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One dataset cache for the whole session: MNIST-1D is generated once."""
    return tmp_path_factory.mktemp("data")


def compose_cfg(overrides: list[str], output_dir: Path, data_dir: Path) -> DictConfig:
    """The real config with ``overrides``, writing to ``output_dir``, caching data in
    ``data_dir``."""
    return compose_job([f"paths.data_dir={data_dir}", *overrides], output_dir)


@pytest.fixture
def make_cfg(tmp_path, data_dir):
    """``make_cfg("model.width=8", ...)``: the real config, a small budget, no logger."""

    def make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        base = [
            "trainer=cpu",
            "trainer.max_steps=40",
            "trainer.val_check_interval=20",
            "logger=none",
        ]
        return compose_cfg([*base, *overrides], output_dir or tmp_path, data_dir)

    return make


def cli_command(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of ``python train.py ARGS`` as a user runs it."""
    return [sys.executable, str(ROOT / "train.py"), *args], {**os.environ, **CLI_ENV}


def run_cli(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python train.py ARGS`` to the end, output captured. ``cwd`` is where Hydra puts
    outputs/ and multirun/ when the args name no folder: a test's scratch folder, never the
    checkout."""
    argv, env = cli_command(args)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def start_cli(args: list[str], cwd: Path, **popen) -> subprocess.Popen:
    """Start ``python train.py ARGS`` without waiting: for runs started together or killed."""
    argv, env = cli_command(args)
    return subprocess.Popen(argv, cwd=cwd, env=env, **popen)


@pytest.fixture
def no_network(monkeypatch):
    """Every download attempt fails at once, as on a machine without network."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def no_system_copy(monkeypatch):
    """torchvision's path, even where Debian's Fashion-MNIST is installed (tests/test_local_copy.py
    covers the system copy)."""
    monkeypatch.setattr(local_copy, "SYSTEM_DIRS", {})
