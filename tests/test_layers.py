"""The layers of xlsweep read top-down: no import from a lower floor into a higher one, no circle, MLflow at one edge.

The floors are the table in docs/architecture.md (lowest first); every import of ``xlsweep/`` counts, those inside
functions and ``TYPE_CHECKING`` blocks too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xlsweep"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _floors() -> dict[str, int]:
    """Unit (a package or module right under xlsweep/) -> its floor, from the layer table of docs/architecture.md."""
    text = ARCHITECTURE.read_text()
    table = text.split("<!-- layers -->", 1)[1].split("<!-- /layers -->", 1)[0]
    floors: dict[str, int] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        for unit in re.findall(r"`([a-z_]+)/?`", cells[1]):
            floors[unit] = int(cells[0])
    return floors


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in the file, wherever it is (functions, TYPE_CHECKING blocks)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "xlsweep" and len(parts) > 1 else None


MODULES = dict(_modules())


def test_every_unit_of_the_package_is_on_a_floor() -> None:
    floors = _floors()
    units = {_unit(name) for name in MODULES} - {None}
    assert units - set(floors) == set(), "add them to the layer table of docs/architecture.md"
    assert set(floors) - units == set(), "the layer table names units that do not exist"


def test_no_import_runs_from_a_lower_floor_up_or_across() -> None:
    floors = _floors()
    wrong = []
    for name, path in MODULES.items():
        unit = _unit(name)
        if unit is None:
            continue
        for line, target in _imports(path):
            other = _unit(target)
            if other is None or other == unit:
                continue
            if floors[other] >= floors[unit]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({unit}, floor {floors[unit]}) imports {target} "
                             f"({other}, floor {floors[other]})")
    assert wrong == []


def test_the_import_graph_has_no_circle() -> None:
    graph = {name: {t for _, t in _imports(path) if t in MODULES and t != name} for name, path in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert circles == []


def test_mlflow_is_imported_only_in_tracking() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}" for name, path in MODULES.items()
             if not name.startswith("xlsweep.tracking")
             for line, target in _imports(path) if target.split(".")[0] == "mlflow"]
    assert found == []


@pytest.mark.parametrize("module", ["xlsweep.config"])
def test_the_ground_floor_imports_no_framework(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('torch', 'ray', 'mlflow', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
