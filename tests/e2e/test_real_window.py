"""End to end: the installed app as a subprocess in a real X server (Xvfb),
driven from outside as a user would: `mpugui --sandbox` opens its window, a
second `mpugui FILE` hands a file over the local socket, the destination
dialog's Upload is pressed through XTest (xdotool), the upload finishes
(read with `mpugui transfers --json`, which works while the window runs),
SIGTERM quits cleanly, and a restart restores the queue from the journal;
the window manager's close button (a WM_DELETE_WINDOW client message, sent
with python-xlib: no window manager runs in Xvfb, and `xdotool windowclose`
destroys the window instead, which Qt never sees as a close) asks before
quitting while an upload runs, and quits at once when idle.
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


def wm_close(disp: str, wid: str) -> None:
    """What a window manager's close button does (ICCCM): a WM_PROTOCOLS
    client message carrying WM_DELETE_WINDOW, to the window's owner."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.protocol import event

    d = xdisplay.Display(disp)
    try:
        win = d.create_resource_object("window", int(wid))
        protocols, delete = d.intern_atom("WM_PROTOCOLS"), d.intern_atom("WM_DELETE_WINDOW")
        assert delete in (win.get_wm_protocols() or []), "the window does not take WM closes"
        win.send_event(event.ClientMessage(window=win, client_type=protocols,
                                           data=(32, [delete, X.CurrentTime, 0, 0, 0])),
                       event_mask=0)
        d.flush()
    finally:
        d.close()


def quit_window(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return out


def _slow_window(display: str, rate: int = 2 * 1024 * 1024) -> tuple[subprocess.Popen[str], str]:
    """The sandbox window with uploads held to `rate` bytes/s (the status
    bar's limit), once its server answers; with its X window id."""
    home = Path(os.environ["MPUGUI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "mpugui.ini").write_text(f"[transfers]\nbandwidth_limit={rate}\n")
    app = start_window(display)
    main = wait_for(lambda: xdotool(display, "search", "--name", "mpugui — Sandbox"), 60,
                    "the main window")
    log = home / "mpugui.log"
    wait_for(lambda: log.exists() and "Sandbox S3 server at" in log.read_text(), 60,
             "the sandbox server")
    return app, str(main).split()[0]


def _hand_over_and_upload(display: str, src: Path) -> None:
    """A second `mpugui FILE`: handed to the running window, which asks where
    it goes; Upload is pressed there."""
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


def test_drop_upload_quit_and_restore_in_a_real_window(display: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "real.bin", 12 * 1024 * 1024 + 5, seed=21)
    app, window = _slow_window(display)  # time to pause on the way
    try:
        _hand_over_and_upload(display, src)
        wait_for(lambda: state() == "uploading", 60, "the upload to start")
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


@pytest.mark.skip(reason="flaky under load in CI (the quit question or the restarted window "
                  "not found in time); issue 13 keeps it open until it is made reliable")
def test_the_window_managers_close_asks_while_uploading_and_quits(
        display: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "closing.bin", 24 * 1024 * 1024, seed=22)
    app, window = _slow_window(display, rate=256 * 1024)  # ~100 s: still running at the end
    try:
        _hand_over_and_upload(display, src)
        wait_for(lambda: state() == "uploading", 60, "the upload to start")

        wm_close(display, window)  # the close button: asked, not quit
        box = wait_for(lambda: xdotool(display, "search", "--name", "Quit mpugui"), 30,
                       "the quit question")
        box_id = str(box).split()[0]
        wait_for(lambda: xdotool(display, "getwindowgeometry", box_id), 10, "its geometry")
        assert app.poll() is None
        xdotool(display, "windowfocus", "--sync", box_id)
        xdotool(display, "key", "--window", box_id, "Escape")  # Cancel: nothing stops
        wait_for(lambda: not xdotool(display, "search", "--name", "Quit mpugui"), 30,
                 "the question to close")
        assert app.poll() is None and state() == "uploading"

        wm_close(display, window)  # asked again; this time Quit
        box = wait_for(lambda: xdotool(display, "search", "--name", "Quit mpugui"), 30,
                       "the quit question again")
        box_id = str(box).split()[0]
        wait_for(lambda: xdotool(display, "getwindowgeometry", box_id), 10, "its geometry")
        # "&Quit"; again while the question is still there (a key sent to a
        # window that is not yet taking input is lost on a busy machine)
        deadline = time.monotonic() + 60
        while app.poll() is None and time.monotonic() < deadline:
            if xdotool(display, "search", "--name", "Quit mpugui"):
                xdotool(display, "windowfocus", "--sync", box_id)
                xdotool(display, "key", "--window", box_id, "alt+q")
            try:
                app.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        out, _ = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            out = quit_window(app)
    assert app.returncode == 0, out[-2000:]
    assert "Traceback" not in out
    # It quit with the upload on its way: the journal has it, to resume.
    assert state() == "uploading"

    idle = start_window(display)  # nothing running: the close button quits at once
    try:
        main = wait_for(lambda: xdotool(display, "search", "--name", "mpugui — Sandbox"), 60,
                        "the window again")
        log = Path(os.environ["MPUGUI_HOME"]) / "mpugui.log"
        wait_for(lambda: "Restored 1 transfer(s)" in log.read_text(), 60, "the restored queue")
        assert state() == "paused"  # auto-resume is off: it waits for Resume
        wm_close(display, str(main).split()[0])
        out, _ = idle.communicate(timeout=60)
    finally:
        if idle.poll() is None:
            out = quit_window(idle)
    assert idle.returncode == 0, out[-2000:]
    assert "Traceback" not in out
