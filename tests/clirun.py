"""Running the real CLI (`python -m mpugui ...`) as a child process, with the
test's environment (MPUGUI_HOME, AWS_* from the isolated_env fixture); or in
the test's own process through cli.main (run_in_process), where its servers
and fixtures are at hand."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mpugui.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("QT_QPA_PLATFORM", None)  # the CLI needs no platform plugin at all
    env.update(extra)
    return env


def cli_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mpugui", *args]


def without_root_powers() -> list[str]:
    """A command prefix that runs the CLI without root's power to read any
    file (CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH dropped by util-linux's
    setpriv), so a mode-000 file is really unreadable to it. Still uid 0, so
    it can run the interpreter under /root. Not root: no prefix needed."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def start_cli(*args: str, prefix: list[str] | None = None,
              **popen: Any) -> subprocess.Popen[str]:
    popen.setdefault("env", cli_env())
    return subprocess.Popen([*(prefix or []), *cli_cmd(*args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def run_cli(*args: str, timeout: float = 120, prefix: list[str] | None = None,
            **popen: Any) -> subprocess.CompletedProcess[str]:
    popen.setdefault("env", cli_env())
    return subprocess.run([*(prefix or []), *cli_cmd(*args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **popen)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def transfers(**popen: Any) -> list[dict[str, Any]]:
    """`mpugui transfers --json`, parsed."""
    done = run_cli("transfers", "--json", **popen)
    assert done.returncode == 0, done.stderr
    return json_lines(done.stdout)


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`mpugui ARGS` through cli.main; returns (exit code, stdout, stderr)."""
    root = logging.getLogger()
    level = root.level
    try:
        code = cli.main(list(args))
    finally:
        # cli.main installs its log file handler on every call; in one
        # process the previous one must be closed, not just dropped.
        for handler in [h for h in root.handlers if getattr(h, "_mpugui", False)]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
