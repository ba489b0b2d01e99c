"""Every row of docs/bad-inputs.md, run as the table says: the exact line it prints, its exit
code, and that nothing trained. The rows are read from the document, so the two cannot drift.
The study rows (``plan …``/``run …``) go to ``python -m biaslab.study``; those written out
in full run as typed, with a fresh ``--out``.

Most rows run in-process (``biaslab.run.train.main`` on the composed config; Hydra's own errors
from composing); some run ``train.py`` for real: the output-path row, which ``make_cfg`` would
overwrite and which must leave no folder, one error printed by Hydra itself, and the rows
refused on the command line or at a sweep's launch, which have no in-process equivalent.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from biaslab.config import ConfigError, check_paths
from biaslab.records.results import read_results
from biaslab.run.train import main
from biaslab.study.cli import main as study_main

from .conftest import CONF, ROOT, run_cli

DOC = ROOT / "docs" / "bad-inputs.md"
COMMAND = ["logger=none", "trainer.max_steps=1"]  # every row's input follows these
CLI_ROWS = ("paths.output_dir=../elsewhere", "model=foo")
# refused by train.py before Hydra parses the command line, or by a sweep's launch: commands only
COMMAND_ONLY = ("command line", "before the sweep folder")


@dataclass(frozen=True)
class Row:
    input: str
    prints: str
    exit: int
    refused: str
    allowed: str

    @property
    def overrides(self) -> list[str]:
        return shlex.split(self.input)


def read_table(path: Path = DOC) -> list[Row]:
    """The rows of the markdown tables whose first cell is a backquoted input."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 5, f"a row needs 5 cells: {line}"
        rows.append(Row(cells[0], cells[1], int(cells[2]), cells[3], cells[4]))
    return rows


ROWS = read_table()
STUDY = [r for r in ROWS if r.input.split()[0] in ("plan", "run")]
# the study rows written out in full (not "plan ... --cap 10" or "run DIR")
STUDY_TYPED = [r for r in STUDY if "..." not in r.input and "DIR" not in r.input]
OURS = [
    r
    for r in ROWS
    if r.exit == 2
    and not r.input.startswith("paths.output_dir=")
    and r.refused not in COMMAND_ONLY
    and r not in STUDY
]
HYDRA = [r for r in ROWS if r.exit != 2]
CLI = [r for r in ROWS if r.input in CLI_ROWS or r.refused in COMMAND_ONLY]


def _squeeze(text: str) -> str:
    # lists print as [8, 0] or ['a', 'b'] for the typed [8,0] or [a,b]
    return text.replace(" ", "").replace("'", "")


def test_table_covers_enough_inputs():
    assert len(ROWS) >= 20, f"docs/bad-inputs.md lists {len(ROWS)} inputs"
    assert len({r.input for r in ROWS}) == len(ROWS), "an input is listed twice"
    assert [r.input for r in CLI if r.input in CLI_ROWS] == list(CLI_ROWS)
    assert {r.refused for r in CLI} - {"Hydra", "before the run folder"} == set(COMMAND_ONLY)


@pytest.mark.parametrize("row", OURS, ids=[r.input for r in OURS])
def test_refused_with_one_line_before_training(make_cfg, tmp_path, monkeypatch, capsys, row):
    monkeypatch.chdir(tmp_path)  # a relative path in a row stays in here
    cfg = make_cfg(*COMMAND, *row.overrides, output_dir=tmp_path / "out")
    # the "refused" column: the Hydra callback's check, before any folder, or train()'s
    if row.refused == "before the run folder":
        with pytest.raises(ConfigError):
            check_paths(cfg, HydraConfig.get())
    else:
        assert row.refused == "before training"
        check_paths(cfg, HydraConfig.get())
    with pytest.raises(SystemExit) as exit_info:
        main(cfg)
    assert exit_info.value.code == row.exit
    assert capsys.readouterr().err.splitlines() == [row.prints]
    # it names the key and the value: the one typed, or the one a combination blames
    named = row.prints.removeprefix("error: ").split(" is not allowed")[0]
    typed = [o.lstrip("+") for o in row.overrides]
    # a secret's value is never printed: the key alone names it
    secret = "<redacted>" in named and named.split("=")[0] in [o.split("=")[0] for o in typed]
    assert any(_squeeze(o) in _squeeze(row.prints) for o in typed) or named in typed or secret
    rec = read_results(tmp_path / "out")  # the attempt is on record, and nothing trained
    assert rec["status"] == "failed" and rec["error"]["type"] == "ConfigError"
    assert rec["metrics"] == {} and "params" not in rec
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.parametrize("row", STUDY_TYPED, ids=[r.input for r in STUDY_TYPED])
def test_study_refuses_before_writing_a_plan(tmp_path, capsys, row):
    assert row.refused == "before plan.yaml"
    out = tmp_path / "study"
    assert study_main([*row.overrides, f"--out={out}"]) == row.exit
    assert capsys.readouterr().err.splitlines() == [row.prints]
    assert not out.exists()


@pytest.mark.parametrize("row", HYDRA, ids=[r.input for r in HYDRA])
def test_hydra_refuses_while_composing(make_cfg, row):
    assert row.exit == 1 and row.refused == "Hydra"
    with pytest.raises(Exception) as error:
        make_cfg(*COMMAND, *row.overrides)
    assert str(error.value).splitlines()[0] == row.prints
    missing = re.match(r"In 'config': Could not find '(\w+)/", row.prints)
    if missing:  # an unknown option: Hydra lists the group's options
        options = [p.stem for p in (CONF / missing[1]).glob("*.yaml")]
        assert options and all(f"\t{o}\n" in str(error.value) for o in options)


@pytest.mark.slow
@pytest.mark.parametrize("row", CLI, ids=[r.input for r in CLI])
def test_command_line(tmp_path, row):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = run_cli([*COMMAND, *row.overrides], cwd)
    assert proc.returncode == row.exit, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    if row.exit == 2:
        assert lines == [row.prints]
    else:
        assert lines[0] == row.prints
    # refused before Hydra made any folder: none here, none where the path pointed
    assert not list(cwd.iterdir()) and not (tmp_path / "elsewhere").exists()
