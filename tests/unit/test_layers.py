"""The layers stay one-directional: core has no Qt, engine and CLI no widgets.
Contracts live in pyproject.toml ([tool.importlinter]); import-linter cannot
name PySide6's submodules, so the QtGui/QtWidgets rule is checked here by
importing the modules in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def test_import_contracts_hold() -> None:
    proc = _run("from importlinter.cli import lint_imports_command; lint_imports_command()")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 7 kept, 0 broken." in proc.stdout, proc.stdout




def module_cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """The graph's strongly connected groups of more than one module
    (Tarjan's algorithm, iterative: each is a set of modules importing each
    other, however indirectly)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.add(m)
                    if m == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def test_no_module_imports_itself_round_a_cycle() -> None:
    """Every import counts: at module level, in a function, for types only."""
    cycles = module_cycles(grimp.build_graph("mpugui"))
    assert cycles == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"),
                               ("p.c", "p.d"), ("p.e", "p.e2"), ("p.e2", "p.e")]:
        graph.add_import(importer=importer, imported=imported)
    assert sorted(map(sorted, module_cycles(graph))) == [["p.a", "p.b", "p.c"],
                                                         ["p.e", "p.e2"]]


def _modules(package: str) -> list[str]:
    """Every module of the package, its rooms' included."""
    folder = ROOT.joinpath(*package.split("."))
    return [".".join((package, *p.relative_to(folder).with_suffix("").parts))
            for p in sorted(folder.rglob("*.py")) if p.stem != "__init__"]


def test_core_imports_without_qt() -> None:
    code = "".join(f"import {m}\n" for m in _modules("mpugui.core")) + (
        "import sys\nbad = [m for m in sys.modules if m.startswith('PySide6')]\n"
        "assert not bad, bad\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr


def test_engine_and_cli_load_no_widgets() -> None:
    modules = [*_modules("mpugui.engine"), *_modules("mpugui.cli")]
    code = "".join(f"import {m}\n" for m in modules) + (
        "import sys\n"
        "bad = [m for m in sys.modules if m in ('PySide6.QtWidgets', 'PySide6.QtGui')]\n"
        "assert not bad, bad\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
