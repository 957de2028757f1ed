"""End to end: the installed app as a subprocess in a real X server (Xvfb),
driven from outside as a user would: `mpugui --sandbox` opens its window, a
second `mpugui FILE` hands a file over the local socket, the destination
dialog's Upload is pressed through XTest (xdotool), the upload finishes
(read with `mpugui transfers --json`, which works while the window runs),
SIGTERM quits cleanly, and a restart restores the queue from the journal.
Skipped where Xvfb or xdotool is missing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.clirun import cli_cmd, cli_env, json_lines, run_cli
from tests.conftest import make_file

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")),
                                reason="needs Xvfb and xdotool")


def wait_for(what: Callable[[], object], timeout: float, label: str) -> object:
    """Poll `what` until it is truthy (a wait with a deadline, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {label}")


@pytest.fixture
def display() -> Iterator[str]:
    for n in range(120, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    else:
        pytest.skip("no free display number")
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1366x768x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{n}").exists(), 20, "Xvfb")
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(10)


def xdotool(disp: str, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True,
                          env={**os.environ, "DISPLAY": disp}, timeout=20)
    return done.stdout.strip() if done.returncode == 0 else ""


def window_env(disp: str) -> dict[str, str]:
    env = cli_env(DISPLAY=disp)
    env.pop("QT_QPA_PLATFORM", None)  # the real xcb platform
    return env


def start_window(disp: str) -> subprocess.Popen[str]:
    return subprocess.Popen(cli_cmd("--sandbox"), cwd=ROOT, env=window_env(disp),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def quit_window(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return out


def test_drop_upload_quit_and_restore_in_a_real_window(display: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "real.bin", 12 * 1024 * 1024 + 5, seed=21)
    home = Path(os.environ["MPUGUI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    # 2 MiB/s, as the status bar's limit keeps it: time to pause on the way
    (home / "mpugui.ini").write_text("[transfers]\nbandwidth_limit=2097152\n")
    app = start_window(display)
    try:
        main = wait_for(lambda: xdotool(display, "search", "--name", "mpugui — Sandbox"), 60,
                        "the main window")
        log = Path(os.environ["MPUGUI_HOME"]) / "mpugui.log"
        wait_for(lambda: log.exists() and "Sandbox S3 server at" in log.read_text(), 60,
                 "the sandbox server")
        # A second `mpugui FILE`: handed to the running window, which asks where it goes.
        handed = subprocess.run(cli_cmd(str(src)), cwd=ROOT, env=window_env(display),
                                capture_output=True, text=True, timeout=60)
        assert handed.returncode == 0, handed.stderr
        dialog = wait_for(lambda: xdotool(display, "search", "--name", "Upload to S3"), 30,
                          "the destination dialog")
        wid = str(dialog).split()[0]
        wait_for(lambda: xdotool(display, "getwindowgeometry", wid), 10, "its geometry")
        xdotool(display, "windowfocus", "--sync", wid)
        # Alt+U is the Upload button's mnemonic ("&Upload").
        xdotool(display, "key", "--window", wid, "alt+u")

        def state() -> str:
            rows = json_lines(run_cli("transfers", "--json").stdout)
            return rows[0]["state"] if rows else ""

        wait_for(lambda: state() == "uploading", 60, "the upload to start")
        window = str(main).split()[0]
        xdotool(display, "windowfocus", "--sync", window)
        xdotool(display, "key", "--window", window, "ctrl+shift+p")  # Pause all
        wait_for(lambda: state() == "paused", 30, "the pause")
        xdotool(display, "key", "--window", window, "ctrl+shift+r")  # Resume all
        wait_for(lambda: state() == "done", 90, "the upload to finish")
    finally:
        out = quit_window(app)
    assert app.returncode == 0, out[-2000:]
    assert "Traceback" not in out

    again = start_window(display)
    try:
        wait_for(lambda: xdotool(display, "search", "--name", "mpugui — Sandbox"), 60,
                 "the window again")
        log = Path(os.environ["MPUGUI_HOME"]) / "mpugui.log"
        wait_for(lambda: "Restored 1 transfer(s)" in log.read_text(), 30, "the restored queue")
    finally:
        out = quit_window(again)
    assert again.returncode == 0, out[-2000:]
