"""The core (domain/, ports/) imports only the standard library and itself.

import-linter's forbidden contracts name the frameworks we know; this test also catches a
third-party package nobody thought to list."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ("domain", "ports")
CORE_FILES = sorted(path for package in CORE for path in (ROOT / package).rglob("*.py"))


def imported_top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_has_modules_to_check() -> None:
    assert len(CORE_FILES) >= 5


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_only_the_standard_library_and_the_core(path: Path) -> None:
    foreign = {
        name
        for name in imported_top_level_names(path)
        if name not in sys.stdlib_module_names and name not in CORE
    }
    assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"
