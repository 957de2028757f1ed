"""The GUI with many files: two scenarios, one JSON line on stdout.

(a) `add`: the real main window (offscreen, mpugui.ui.app.launch.start_session)
adds a folder of N 0-byte files (default 100,000) with
`window.add_paths([folder], dest)` and uploads them to the sink (its own
process). A 5 ms QTimer on the main thread records how late each timeout
fires (the stall); reported per phase: while the files are being added
(until the adder's `added` signal) and while they upload. Also: time to
added, time to the last object at the sink (polled from a thread over the
sink's control channel), peak RSS. Stops at --timeout and reports how far it
got.

(b) `startup`: the journal already holds N unfinished transfers (state
'paused', sources are real 0-byte files), seeded with sqlite3 INSERTs into
the `transfers` table; a child process starts the window. Reported, from
spawn: the window shown, the first event-loop turn after it (a
QTimer.singleShot(0) after show), and the worst 5 ms-probe lateness in the
3 s after it (is the window usable, or busy loading?).

    python -m tests.bench.gui_many                     # both, 100,000 files
    python -m tests.bench.gui_many --only startup --files 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from tests.bench.gcpauses import GcPauses

PROBE_MS = 5
ROOT = Path(__file__).resolve().parents[2]


def gui_env(home: Path) -> dict[str, str]:
    return {"MPUGUI_HOME": str(home / "home"), "QT_QPA_PLATFORM": "offscreen",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(home / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "XDG_CONFIG_HOME": str(home / "config"), "PYTHONPATH": str(ROOT)}


def _stats(stalls: list[float]) -> dict:
    if not stalls:
        return {"samples": 0}
    s = sorted(stalls)
    return {"samples": len(s), "p50_ms": round(statistics.median(s), 2),
            "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))], 1),
            "max_ms": round(s[-1], 1), "over_20ms": sum(1 for x in s if x > 20),
            "over_100ms": sum(1 for x in s if x > 100)}


# -- (a) adding and uploading a big folder ------------------------------------------

def add_scenario(files: int, timeout: float) -> dict:
    from tests.bench.run import data_folder
    from tests.bench.sink import SinkProcess

    folder, _names = data_folder(files, 0)
    home = Path(tempfile.mkdtemp(prefix="mpugui-gui-many-"))
    os.environ.update(gui_env(home))
    result: dict = {"scenario": "add", "files": files, "measured": False}
    sink = SinkProcess()
    stop_poll = threading.Event()
    try:
        from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

        from mpugui.core import gc_policy
        from mpugui.core.s3.endpoint import Endpoint
        from mpugui.ui.app import launch

        app = launch.make_application([])
        t_start = time.monotonic()
        session = launch.start_session()
        gc_policy.settle()  # as launch.run_gui does
        window = session.window
        window.resize(1280, 860)
        window.show()
        settle = QEventLoop()
        QTimer.singleShot(1000, settle.quit)
        settle.exec()
        result["start_session_s"] = round(time.monotonic() - t_start - 1.0, 2)
        dest = SimpleNamespace(endpoint=Endpoint(endpoint_url=sink.url, path_style=True),
                               bucket="bench", prefix="gui-many/", storage_class=None,
                               checksum=None, no_overwrite=False, part_size=None,
                               concurrency=None)
        at_sink = [0]

        def poll() -> None:  # a thread, so the main thread pays nothing but the GIL
            while not stop_poll.wait(0.5):
                try:
                    at_sink[0] = sink.sample()["objects"]
                except OSError:
                    pass

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        add_stalls: list[float] = []
        upload_stalls: list[float] = []
        phase = ["adding"]
        marks: dict[str, float] = {}
        gc_pauses = GcPauses().start()
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]
        worst = [0.0, 0.0, ""]

        def probe() -> None:
            now = clock.nsecsElapsed()
            stall = max(0.0, (now - last[0]) / 1e6 - PROBE_MS)
            last[0] = now
            (add_stalls if phase[0] == "adding" else upload_stalls).append(stall)
            if stall > worst[0]:
                worst[:] = [stall, time.monotonic() - t0, phase[0]]

        def added(n: int) -> None:
            marks["added_s"] = time.monotonic() - t0
            marks["added_files"] = n
            phase[0] = "uploading"

        def check_done() -> None:
            if at_sink[0] >= files:
                marks["done_s"] = time.monotonic() - t0
                app.quit()
            elif time.monotonic() - t0 > timeout:
                marks["timed_out"] = True
                app.quit()

        window.adder.added.connect(added)
        timer = QTimer()
        timer.setTimerType(timer.timerType().PreciseTimer)
        timer.setInterval(PROBE_MS)
        timer.timeout.connect(probe)
        done_timer = QTimer()
        done_timer.setInterval(200)
        done_timer.timeout.connect(check_done)
        t0 = time.monotonic()
        timer.start()
        done_timer.start()
        window.add_paths([str(folder)], dest)
        app.exec()
        timer.stop()
        done_timer.stop()
        gc_pauses.stop()
        stop_poll.set()
        poller.join(5)
        result.update(
            measured=True, seconds=round(time.monotonic() - t0, 1),
            added_s=round(marks["added_s"], 2) if "added_s" in marks else None,
            added_files=marks.get("added_files"),
            done_s=round(marks["done_s"], 2) if "done_s" in marks else None,
            at_sink=at_sink[0], timed_out=bool(marks.get("timed_out")),
            while_adding=_stats(add_stalls), while_uploading=_stats(upload_stalls),
            overall=_stats(add_stalls + upload_stalls),
            worst_ms=round(worst[0], 1), worst_at_s=round(worst[1], 2), worst_phase=worst[2],
            gc_pause_max_ms=gc_pauses.longest,
            peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            loadavg=os.getloadavg()[0])
        t_close = time.monotonic()
        session.close()
        result["close_s"] = round(time.monotonic() - t_close, 2)
    except Exception as exc:  # report, never hang
        result["why"] = repr(exc)[:400]
    finally:
        stop_poll.set()
        sink.close()
    return result


# -- (b) start-up on a big journal ------------------------------------------------

def seed_journal(home: Path, folder: Path, names: list[str]) -> Path:
    """Create the journal with mpugui's own schema (one record added through
    the Journal API, as the template for the encoding), then INSERT the rest."""
    os.environ["MPUGUI_HOME"] = str(home / "home")
    from mpugui.core.journal.store import _COLUMNS, Journal, TransferRecord
    from mpugui.core.paths import journal_path
    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.core.sources import identity

    path = journal_path()
    first = str(folder / names[0])
    ident = identity(first)
    journal = Journal(path)
    journal.add(TransferRecord(
        source=first, bucket="bench", key=f"seeded/{names[0]}",
        endpoint=Endpoint(endpoint_url="http://127.0.0.1:9", path_style=True),
        size=0, mtime_ns=ident.mtime_ns, sample=ident.sample, part_size=16 * 1024 * 1024,
        multipart=False, checksum="crc32c", state="paused", position=1.0))
    journal.close()
    db = sqlite3.connect(path)
    cols = ", ".join(_COLUMNS)
    template = dict(zip(_COLUMNS, db.execute(f"SELECT {cols} FROM transfers").fetchone(),
                        strict=True))
    rows = []
    for i, rel in enumerate(names[1:], start=2):
        src = folder / rel
        row = dict(template, source=os.fsencode(str(src)), key=f"seeded/{rel}",
                   mtime_ns=os.stat(src).st_mtime_ns, position=float(i))
        rows.append(tuple(row[c] for c in _COLUMNS))
    with db:
        db.executemany(f"INSERT INTO transfers ({cols}) VALUES "
                       f"({', '.join('?' * len(_COLUMNS))})", rows)
    count = db.execute("SELECT COUNT(*) FROM transfers WHERE state='paused'").fetchone()[0]
    db.close()
    assert count == len(names), count
    return path


def startup_child() -> int:
    """In the child: start the window, print monotonic timestamps."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    from mpugui.core import gc_policy
    from mpugui.ui.app import launch

    marks: dict = {"imported": time.monotonic()}
    app = launch.make_application([])
    session = launch.start_session()
    gc_policy.settle()  # as launch.run_gui does
    marks["session"] = time.monotonic()
    window = session.window
    window.resize(1280, 860)
    window.show()
    marks["shown"] = time.monotonic()
    lateness: list[float] = []
    clock = QElapsedTimer()
    last = [0]

    def first_turn() -> None:
        marks["first_turn"] = time.monotonic()
        try:
            marks["rows"] = window.queue.model().rowCount()
        except Exception:
            marks["rows"] = None
        clock.start()
        last[0] = clock.nsecsElapsed()
        probe.start()
        QTimer.singleShot(3000, app.quit)

    def tick() -> None:
        now = clock.nsecsElapsed()
        lateness.append(max(0.0, (now - last[0]) / 1e6 - PROBE_MS))
        last[0] = now

    probe = QTimer()
    probe.setTimerType(probe.timerType().PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(tick)
    QTimer.singleShot(0, first_turn)
    app.exec()
    probe.stop()
    marks["after_show"] = _stats(lateness)
    try:
        marks["rows_after_3s"] = window.queue.model().rowCount()
    except Exception:
        marks["rows_after_3s"] = None
    marks["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(marks), flush=True)
    os._exit(0)  # the measurement is done; closing 100k rows is not part of it


def startup_scenario(files: int, timeout: float) -> dict:
    from tests.bench.run import data_folder

    folder, names = data_folder(files, 0)
    home = Path(tempfile.mkdtemp(prefix="mpugui-gui-journal-"))
    result: dict = {"scenario": "startup", "journal_rows": files, "measured": False}
    t = time.monotonic()
    seed_journal(home, folder, names)
    result["seed_s"] = round(time.monotonic() - t, 1)
    env = {**os.environ, **gui_env(home)}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.gui_many", "--startup-child"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        result["why"] = f"no window within {timeout:g} s"
        return result
    try:
        marks = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result["why"] = (err or out)[-400:]
        return result
    result.update(
        measured=True,
        imports_s=round(marks["imported"] - t0, 2),
        session_s=round(marks["session"] - t0, 2),
        shown_s=round(marks["shown"] - t0, 2),
        first_turn_s=round(marks["first_turn"] - t0, 2),
        rows_at_first_turn=marks.get("rows"), rows_after_3s=marks.get("rows_after_3s"),
        after_show=marks["after_show"], peak_rss_mib=marks["peak_rss_mib"],
        loadavg=os.getloadavg()[0])
    return result


def _child_json(args: list[str], timeout: float) -> dict:
    """This script in a child process (its own session: a timeout kills it and
    the sink it started); its last stdout line is the result."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.gui_many", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return {"measured": False, "why": f"timed out after {timeout:g} s"}
    finally:
        try:
            os.killpg(proc.pid, 9)  # whatever it left behind
        except (ProcessLookupError, PermissionError):
            pass
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"measured": False, "why": (err or out)[-400:]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--only", choices=["add", "startup"])
    p.add_argument("--timeout", type=float, default=600,
                   help="seconds for each scenario before it is stopped and reported")
    p.add_argument("--startup-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.startup_child:
        return startup_child()
    out: dict = {"files": args.files}
    if args.only in (None, "startup"):
        out["startup"] = startup_scenario(args.files, args.timeout)
        print(json.dumps(out["startup"]), file=sys.stderr, flush=True)
    if args.only in (None, "add"):
        # In a child: the add scenario leaves Qt and the engine in this
        # process; a fresh interpreter keeps the two measurements apart.
        if args.only is None:
            out["add"] = _child_json(["--only", "add", "--files", str(args.files),
                                      "--timeout", str(args.timeout)], args.timeout + 300)
        else:
            out["add"] = add_scenario(args.files, args.timeout)
    out["measured"] = any(v.get("measured") for v in out.values() if isinstance(v, dict))
    print(json.dumps(out if args.only is None else out.get(args.only)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
