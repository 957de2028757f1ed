"""The layers stay one-directional: core has no Qt, engine and CLI no widgets.
Contracts live in pyproject.toml ([tool.importlinter]); import-linter cannot
name PySide6's submodules, so the QtGui/QtWidgets rule is checked here by
importing the modules in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def test_import_contracts_hold() -> None:
    proc = _run("from importlinter.cli import lint_imports_command; lint_imports_command()")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout, proc.stdout


def _modules(package: str) -> list[str]:
    folder = ROOT.joinpath(*package.split("."))
    return [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]


def test_core_imports_without_qt() -> None:
    code = "".join(f"import {m}\n" for m in _modules("mpugui.core")) + (
        "import sys\nbad = [m for m in sys.modules if m.startswith('PySide6')]\n"
        "assert not bad, bad\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr


def test_engine_and_cli_load_no_widgets() -> None:
    modules = [*_modules("mpugui.engine"), "mpugui.cli", "mpugui.uploads_cli"]
    code = "".join(f"import {m}\n" for m in modules) + (
        "import sys\n"
        "bad = [m for m in sys.modules if m in ('PySide6.QtWidgets', 'PySide6.QtGui')]\n"
        "assert not bad, bad\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
