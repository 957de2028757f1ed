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

Without a window manager or a desktop around it, three things are done
here with care (each lost input on a loaded machine before):
- Keys go through XTest to the focused window, press and release alike
  (`press`). `xdotool key --window W` picks XTest or XSendEvent per event
  by whether W has the focus: a key that closes W has its press sent by
  XTest and its release by XSendEvent, so the X server keeps the key down
  and autorepeats it into whatever is focused next (the next quit
  question, closed by a phantom Escape as soon as it showed).
- The WM_DELETE_WINDOW message is followed by a round trip before hanging
  up (`wm_close`): the X server closes a client whose socket it finds hung
  up without reading the requests still waiting there, so a busy Xvfb
  dropped the close.
- Xvfb runs with -noreset (see `display`).
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
    # -noreset: an X server resets when its last client leaves (an xdotool
    # call, the first window quitting), and a window starting meanwhile
    # cannot connect ("the display could not be reached", exit 2).
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1366x768x24", "-nolisten",
                             "tcp", "-noreset"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
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


def shown(disp: str, title: str, timeout: float, label: str,
          app: subprocess.Popen[str] | None = None) -> str:
    """The id of the mapped window named `title`: Qt names a window before
    it maps it, and an unmapped window cannot take the focus. Fails at once,
    with what it said, when `app` ends instead."""
    def look() -> str:
        if app is not None and app.poll() is not None:
            raise AssertionError(f"mpugui ended (exit {app.returncode}) before {label}: "
                                 f"{app.communicate()[0][-2000:]}")
        return xdotool(disp, "search", "--onlyvisible", "--name", title)

    return str(wait_for(look, timeout, label)).split()[0]


def press(disp: str, wid: str, keys: str) -> None:
    """Focus `wid` (waiting until the X server says so), then type `keys`
    through XTest only (no --window: see the module's docstring)."""
    def focused() -> bool:
        xdotool(disp, "windowfocus", "--sync", wid)
        return xdotool(disp, "getwindowfocus") == wid

    wait_for(focused, 30, f"the focus on window {wid}")
    xdotool(disp, "key", keys)


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
        d.sync()  # not just flush(): the server has read it before we hang up
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
    try:
        main = shown(display, "mpugui — Sandbox", 90, "the main window", app)
        log = home / "mpugui.log"
        wait_for(lambda: log.exists() and "Sandbox S3 server at" in log.read_text(), 60,
                 "the sandbox server")
    except BaseException:
        if app.poll() is None:
            quit_window(app)
        raise
    return app, main


def _hand_over_and_upload(display: str, src: Path) -> None:
    """A second `mpugui FILE`: handed to the running window, which asks where
    it goes; Upload is pressed there."""
    handed = subprocess.run(cli_cmd(str(src)), cwd=ROOT, env=window_env(display),
                            capture_output=True, text=True, timeout=60)
    assert handed.returncode == 0, handed.stderr
    dialog = shown(display, "Upload to S3", 60, "the destination dialog")
    press(display, dialog, "alt+u")  # the Upload button's mnemonic ("&Upload")


def state() -> str:
    rows = json_lines(run_cli("transfers", "--json").stdout)
    return rows[0]["state"] if rows else ""


def test_drop_upload_quit_and_restore_in_a_real_window(display: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "real.bin", 12 * 1024 * 1024 + 5, seed=21)
    app, window = _slow_window(display)  # time to pause on the way
    try:
        _hand_over_and_upload(display, src)
        wait_for(lambda: state() == "uploading", 60, "the upload to start")
        press(display, window, "ctrl+shift+p")  # Pause all
        wait_for(lambda: state() == "paused", 30, "the pause")
        press(display, window, "ctrl+shift+r")  # Resume all
        wait_for(lambda: state() == "done", 90, "the upload to finish")
    finally:
        out = quit_window(app)
    assert app.returncode == 0, out[-2000:]
    assert "Traceback" not in out

    again = start_window(display)
    try:
        shown(display, "mpugui — Sandbox", 90, "the window again", again)
        log = Path(os.environ["MPUGUI_HOME"]) / "mpugui.log"
        wait_for(lambda: "Restored 1 transfer(s)" in log.read_text(), 60, "the restored queue")
    finally:
        out = quit_window(again)
    assert again.returncode == 0, out[-2000:]


def test_the_window_managers_close_asks_while_uploading_and_quits(
        display: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "closing.bin", 24 * 1024 * 1024, seed=22)
    app, window = _slow_window(display, rate=256 * 1024)  # ~100 s: still running at the end
    try:
        _hand_over_and_upload(display, src)
        wait_for(lambda: state() == "uploading", 60, "the upload to start")

        wm_close(display, window)  # the close button: asked, not quit
        box = shown(display, "Quit mpugui", 60, "the quit question")
        assert app.poll() is None
        press(display, box, "Escape")  # Cancel: nothing stops
        wait_for(lambda: not xdotool(display, "search", "--onlyvisible", "--name",
                                     "Quit mpugui"), 30, "the question to close")
        assert app.poll() is None and state() == "uploading"

        wm_close(display, window)  # asked again; this time Quit
        box = shown(display, "Quit mpugui", 60, "the quit question again")
        press(display, box, "alt+q")  # "&Quit"
        out, _ = app.communicate(timeout=90)
    finally:
        if app.poll() is None:
            out = quit_window(app)
    assert app.returncode == 0, out[-2000:]
    assert "Traceback" not in out
    # It quit with the upload on its way: the journal has it, to resume.
    assert state() == "uploading"

    idle = start_window(display)  # nothing running: the close button quits at once
    try:
        main = shown(display, "mpugui — Sandbox", 90, "the window again", idle)
        log = Path(os.environ["MPUGUI_HOME"]) / "mpugui.log"
        wait_for(lambda: "Restored 1 transfer(s)" in log.read_text(), 60, "the restored queue")
        assert state() == "paused"  # auto-resume is off: it waits for Resume
        wm_close(display, main)
        out, _ = idle.communicate(timeout=60)
    finally:
        if idle.poll() is None:
            out = quit_window(idle)
    assert idle.returncode == 0, out[-2000:]
    assert "Traceback" not in out
