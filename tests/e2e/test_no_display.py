"""`mpugui` with no display: one sentence saying so and that the commands
work headless, exit 2 — not Qt's SIGABRT (134) and raw plugin text."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.clirun import cli_cmd, cli_env

ROOT = Path(__file__).resolve().parents[2]


def _window(**env: str) -> subprocess.CompletedProcess[str]:
    environ = cli_env(**env)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run(cli_cmd(), capture_output=True, text=True, env=environ, cwd=ROOT,
                          timeout=60)


def test_no_display_at_all_is_one_sentence_and_exit_2() -> None:
    done = _window()
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "no display was found" in lines[0] and "mpugui upload" in lines[0]
    assert done.stdout == ""


def _unused_display() -> str:
    for n in range(90, 200):  # no X server listens there (its socket would exist)
        if not Path(f"/tmp/.X11-unix/X{n}").exists():
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", 6000 + n)) != 0:
                    return f":{n}"
    raise AssertionError("every display number is taken")


def test_an_unreachable_display_is_one_sentence_and_exit_2() -> None:
    done = _window(DISPLAY=_unused_display())
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    # Reached or not, the sentence says the window cannot open and what works headless.
    assert "cannot open" in lines[0] and "mpugui upload" in lines[0]
