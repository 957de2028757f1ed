"""GUI main-thread stalls while 16 parts upload with the part grid shown.

The real window (mpugui.ui.app.launch.start_session, offscreen platform) uploads a
256 MiB file as 16 parts of 16 MiB, all 16 in flight at once, to the sink
behind a WAN proxy (2 MB/s per connection, so the parts stay in flight for
about 8 s). The transfer is selected, so the part grid paints every tick. A
5 ms QTimer on the main thread records how late each timeout fires; the stall
is that lateness. Sink and proxy run in their own processes so their threads
do not compete with the GUI for the GIL. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.gcpauses import GcPauses

PROBE_MS = 5
PARTS = 16
PART = 16 * 1024 * 1024


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="mpugui-gui-bench-"))
    os.environ.update(MPUGUI_HOME=str(home / "home"), QT_QPA_PLATFORM="offscreen",
                      AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1",
                      AWS_CONFIG_FILE=str(home / "none"),
                      AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
                      PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
                      XDG_CONFIG_HOME=str(home / "config"))
    try:
        from mpugui.ui.app import launch
    except ImportError as exc:
        print(json.dumps({"measured": False, "why": f"no GUI yet: {exc}"}))
        return 0
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.engine.engine import EngineSettings, UploadRequest
    from mpugui.ui.parts.part_grid import PartGrid

    src = home / "sixteen-parts.bin"
    with open(src, "wb") as f:
        for _ in range(PARTS):
            f.write(os.urandom(PART))
    root = Path(__file__).resolve().parents[2]
    sink = subprocess.Popen([sys.executable, "-m", "tests.bench.sink"], stdout=subprocess.PIPE,
                            text=True, cwd=root)
    assert sink.stdout is not None
    sink_port = int(sink.stdout.readline())
    wan = subprocess.Popen([sys.executable, "-m", "tests.bench.wan", "--target",
                            f"127.0.0.1:{sink_port}", "--rtt-ms", "20", "--conn-rate", "2e6",
                            "--link-rate", "64e6"], stdout=subprocess.PIPE, text=True, cwd=root)
    assert wan.stdout is not None
    url = f"http://127.0.0.1:{int(wan.stdout.readline())}"
    result: dict = {"measured": False}
    try:
        app = launch.make_application([])
        session = launch.start_session(engine_settings=EngineSettings(
            concurrency=PARTS, part_size=PART))
        window, engine = session.window, session.engine
        window.resize(1280, 860)
        window.show()
        # The window's first layout and paint (font set-up included) is start-up,
        # not a stall during an upload: let it happen before the upload starts.
        settle = QEventLoop()
        QTimer.singleShot(1000, settle.quit)
        settle.exec()
        # Equal parts: the scenario is 16 parts of 16 MiB in flight together
        # (a tapered plan would cut this file into ~50 parts of 5-8 MiB).
        tid = engine.add(UploadRequest(str(src), "bench", "gui/16",
                                       Endpoint(endpoint_url=url, equal_parts=True)))
        stalls: list[float] = []
        # Garbage-collector pauses, to tell them apart from the window's own work.
        gc_pauses = GcPauses().start()
        most_uploading = [0]
        worst = [0.0, 0.0]  # the longest stall and when (s after the upload was added)
        grid_seen = [False]
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        # The probe itself stays cheap: the latest snapshot arrives by signal
        # (as the window gets it) and the grid is looked up once.
        latest = [engine.current_snapshot()]
        engine.snapshot.connect(lambda s: latest.__setitem__(0, s))
        grid = window.findChild(PartGrid)

        def probe() -> None:
            now = clock.nsecsElapsed()
            snap = latest[0].by_id(tid)
            uploading = sum(1 for p in snap.parts if p.state == "uploading") if snap else 0
            most_uploading[0] = max(most_uploading[0], uploading)
            grid_seen[0] = grid_seen[0] or (grid is not None and grid.isVisible())
            if uploading >= PARTS * 3 // 4:  # measure while (nearly) all 16 are in flight
                stall = max(0.0, (now - last[0]) / 1e6 - PROBE_MS)
                stalls.append(stall)
                if stall > worst[0]:
                    worst[:] = [stall, time.monotonic() - t0]
            last[0] = now
            if window.queue.model().rowCount() and not window.queue.selectionModel().hasSelection():
                window.queue.selectRow(0)  # shows the part grid of the transfer
            if snap is not None and snap.state in ("done", "failed"):
                result["state"] = snap.state
                app.quit()

        timer = QTimer()
        timer.setTimerType(timer.timerType().PreciseTimer)
        timer.setInterval(PROBE_MS)
        timer.timeout.connect(probe)
        timer.start()
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(app.quit)
        guard.start(120_000)
        t0 = time.monotonic()
        app.exec()
        timer.stop()
        guard.stop()
        gc_pauses.stop()
        session.close()
        if stalls:
            stalls.sort()
            result.update(measured=True, samples=len(stalls), parts_uploading=most_uploading[0],
                          p50_ms=statistics.median(stalls),
                          p99_ms=stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))],
                          max_ms=stalls[-1], worst_ms=[round(x, 1) for x in stalls[-5:]],
                          max_at_s=round(worst[1], 2),
                          over_20ms=sum(1 for x in stalls if x > 20),
                          loadavg=os.getloadavg()[0], seconds=round(time.monotonic() - t0, 1),
                          part_grid_shown=grid_seen[0],
                          gc_pause_max_ms=gc_pauses.longest,
                          gc_pauses_over_20ms=sum(1 for g in gc_pauses.ms if g > 20))
        else:
            result["why"] = f"never saw {PARTS * 3 // 4}+ parts uploading ({most_uploading[0]})"
    finally:
        for p in (wan, sink):
            p.kill()
            p.wait()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
