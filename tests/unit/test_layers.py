"""The layers' import rule: the core never reaches up into a front, the pure parts never
reach the store or the core.

Checked on the source with ``ast``, so an import under ``TYPE_CHECKING`` or inside a
function counts as much as one at the top of a module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nubo

ROOT = Path(nubo.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module a source file imports, wherever the import statement is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in sorted(imported(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT.parent)}: {name}")
    return found


def test_the_core_never_imports_the_api():
    assert offenders("core", ("nubo.api",)) == []


@pytest.mark.parametrize("package", ["hooks", "drivers", "store", "auth"])
def test_what_the_core_uses_never_imports_the_api(package):
    assert offenders(package, ("nubo.api",)) == []


@pytest.mark.parametrize("package", ["model", "expr", "template", "lifecycle", "context"])
def test_the_pure_parts_import_neither_a_front_nor_the_store_nor_the_core(package):
    assert offenders(package, ("nubo.api", "nubo.store", "nubo.core")) == []


def test_the_walk_sees_imports_inside_functions_and_type_checking(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from nubo.api import rm\ndef f():\n    import nubo.api.wire\n")
    assert {"nubo.api", "nubo.api.rm", "nubo.api.wire"} <= imported(source)
