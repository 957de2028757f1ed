"""Time from spawning `mpugui --sandbox` to a usable window, in a real X
server (Xvfb), as a person starting the app sees it.

Per run, from spawn (each with a fresh $MPUGUI_HOME, so nothing is
restored): `mapped` — the main window is viewable (python-xlib polls the
server every 10 ms); `painted` — its menu and toolbar are drawn (the event
loop has turned: the window takes input); `sandbox` —
the log says the sandbox's S3 server is up (uploads can start). Then SIGTERM
(an idle window quits at once). The machine's load average is printed with
the figures: they mean little on a busy machine.

    python -m tests.bench.sandbox_start --runs 7
    python -m tests.bench.sandbox_start --runs 7 --display :77   # an Xvfb already running
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TITLE = "mpugui — Sandbox"
READY_LINE = "Sandbox S3 server at"


def _start_xvfb(number: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1366x768x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline:
            raise SystemExit("Xvfb did not start")
        time.sleep(0.05)
    return proc


def _viewable_window(disp, title: str):  # type: ignore[no-untyped-def]
    from Xlib import X

    net_name, utf8 = disp.intern_atom("_NET_WM_NAME"), disp.intern_atom("UTF8_STRING")
    for child in disp.screen().root.query_tree().children:
        try:
            prop = child.get_full_property(net_name, utf8)
            name = bytes(prop.value).decode("utf-8", "replace") if prop else ""
            if title in name and child.get_attributes().map_state == X.IsViewable:
                return child
        except Exception:  # a window that went away meanwhile
            continue
    return None


def _painted(window) -> bool:  # type: ignore[no-untyped-def]
    """The window shows its widgets (the event loop turned and painted):
    the menu and toolbar rows hold many colours, an unpainted window one."""
    from Xlib import X

    geometry = window.get_geometry()
    height = min(80, geometry.height)
    image = window.get_image(0, 0, geometry.width, height, X.ZPixmap, 0xFFFFFFFF)
    data = bytes(image.data)
    return len(set(data[i:i + 3] for i in range(0, len(data), 4 * 7))) > 12


def one_run(display: str, timeout: float) -> dict[str, float]:
    from Xlib import display as xdisplay

    home = Path(tempfile.mkdtemp(prefix="mpugui-start-"))
    env = {**os.environ, "DISPLAY": display, "MPUGUI_HOME": str(home)}
    env.pop("QT_QPA_PLATFORM", None)
    disp = xdisplay.Display(display)
    app = shutil.which("mpugui", path=str(Path(sys.executable).parent)) or "mpugui"
    t0 = time.monotonic()
    proc = subprocess.Popen([app, "--sandbox"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    marks: dict[str, float] = {}
    try:
        while time.monotonic() - t0 < timeout:
            if "mapped" not in marks:
                window = _viewable_window(disp, TITLE)
                if window is not None:
                    marks["mapped"] = time.monotonic() - t0
            elif "painted" not in marks and _painted(window):
                marks["painted"] = time.monotonic() - t0
            log = home / "mpugui.log"
            if "sandbox" not in marks and log.exists() and READY_LINE in log.read_text():
                marks["sandbox"] = time.monotonic() - t0
            if len(marks) == 3:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        disp.close()
        shutil.rmtree(home, ignore_errors=True)
    return marks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--display", help="an X display already running (default: start Xvfb)")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    xvfb = None
    display = args.display
    if display is None:
        number = 90 + os.getpid() % 100
        xvfb = _start_xvfb(number)
        display = f":{number}"
    try:
        one_run(display, args.timeout)  # warm the file cache: not counted
        runs = [one_run(display, args.timeout) for _ in range(args.runs)]
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    out: dict[str, object] = {"runs": args.runs, "loadavg_1m": os.getloadavg()[0]}
    for mark in ("mapped", "painted", "sandbox"):
        values = [r[mark] for r in runs if mark in r]
        if values:
            out[mark] = {"min": round(min(values), 2),
                         "median": round(statistics.median(values), 2),
                         "max": round(max(values), 2), "n": len(values)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
