"""The package is walkable: modules small enough to read, functions short enough to follow,
every folder saying what it is for, and docs/layout.md naming what is really there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from biaslab.config.compose import ROOT

PKG = ROOT / "src" / "biaslab"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def packages() -> list[Path]:
    return sorted(p.parent for p in PKG.rglob("__init__.py") if p.parent != PKG)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_modules_and_functions_stay_short(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_the_package_top_holds_folders_and_the_shared_schema_only():
    # schema.py: the typed arguments that models, data and config all read
    loose = sorted(p.name for p in PKG.glob("*.py") if p.name != "__init__.py")
    assert loose == ["schema.py"]


@pytest.mark.parametrize("folder", packages(), ids=lambda p: str(p.relative_to(PKG)))
def test_every_folder_says_in_one_line_what_lives_there(folder):
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
    assert doc, f"{folder.relative_to(PKG)}/__init__.py has no docstring"


def _layout_entries() -> dict[str, str]:
    """docs/layout.md's tree: each `src/biaslab/` folder's entry text, by folder name."""
    text = (ROOT / "docs" / "layout.md").read_text()
    block = text.split("```")[1]
    entries: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        m = re.match(r"^  (\w+)(/|\.py)", line)
        if m:
            current = m[1]
            entries[current] = line
        elif current and line.startswith("    "):
            entries[current] += " " + line
        else:
            current = None
    return entries


def test_docs_layout_names_every_folder_and_module_and_nothing_else():
    entries = _layout_entries()
    top = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    top |= {p.stem for p in PKG.glob("*.py") if p.name != "__init__.py"}
    assert set(entries) == top
    for name, entry in entries.items():
        folder = PKG / name
        if not folder.is_dir():
            continue
        have = {p.stem for p in folder.rglob("*.py") if p.stem != "__init__"}
        named = set(re.findall(r"\b(\w+)\.py\b", entry))
        assert have - named == set(), f"{name}/: not in docs/layout.md"
        assert named - have == set(), f"{name}/: docs/layout.md names what is not there"
