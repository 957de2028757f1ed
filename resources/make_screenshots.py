"""Render the README screenshots offscreen at 1280x800 against the sandbox.

    python resources/make_screenshots.py [--dark] [--out resources/screenshots]

The main window is captured mid-upload: a 2 GiB sparse file (410 parts) goes
up under a bandwidth limit, so part cells are done, filling and pending; a
few small files are done, one is paused and one failed (set not to
overwrite a key that exists).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from mpugui.core.units import MiB
from mpugui.engine.engine import EngineSettings

SIZE = (1280, 800)


def pump(until: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if until():
            return True
        time.sleep(0.01)
    return False


def settle(seconds: float) -> None:
    end = time.monotonic() + seconds
    pump(lambda: time.monotonic() >= end, seconds + 1)


def dark_palette() -> QPalette:
    p = QPalette()
    c = {QPalette.ColorRole.Window: "#1f2328", QPalette.ColorRole.WindowText: "#e6edf3",
         QPalette.ColorRole.Base: "#161b22", QPalette.ColorRole.AlternateBase: "#1c2129",
         QPalette.ColorRole.Text: "#e6edf3", QPalette.ColorRole.Button: "#262c36",
         QPalette.ColorRole.ButtonText: "#e6edf3", QPalette.ColorRole.Highlight: "#1f6feb",
         QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#262c36",
         QPalette.ColorRole.ToolTipText: "#e6edf3", QPalette.ColorRole.PlaceholderText: "#7d8590",
         QPalette.ColorRole.Mid: "#30363d", QPalette.ColorRole.Dark: "#0d1117",
         QPalette.ColorRole.Light: "#3d444d", QPalette.ColorRole.Midlight: "#2d333b"}
    for role, color in c.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5b636d"))
    return p


def sparse(path: Path, size: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def dense(path: Path, size: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return str(path)


def save(widget: QWidget, out: Path, name: str) -> None:
    settle(0.3)
    path = out / name
    widget.grab().save(str(path))
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dark", action="store_true", help="use a dark palette")
    parser.add_argument("--out", default=str(Path(__file__).parent / "screenshots"))
    parser.add_argument("--main-only", action="store_true",
                        help="only the main window, not the dialogs")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["MPUGUI_HOME"] = tempfile.mkdtemp(prefix="mpugui-shots-")
    work = Path(tempfile.mkdtemp(prefix="mpugui-shots-files-"))

    from mpugui.ui.app.launch import make_application, start_session

    app = make_application([])
    if args.dark:
        app.setPalette(dark_palette())
    session = start_session(sandbox=True, engine_settings=EngineSettings(
        part_size=5 * MiB, threshold=5 * MiB, concurrency=8))
    code = 0
    try:
        shoot(session, out, work, args.dark, args.main_only)
    except BaseException:
        traceback.print_exc()  # the app's excepthook would only show a dialog
        code = 1
    session.close()
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(os.environ["MPUGUI_HOME"], ignore_errors=True)
    return code


def shoot(session, out: Path, work: Path, dark: bool, main_only: bool = False) -> None:
    win = session.window
    win.resize(*SIZE)
    win.show()
    from mpugui.ui.destination.destination import Destination

    dest = Destination(endpoint=session.sandbox.endpoint, bucket=session.sandbox.bucket,
                       prefix="projects/launch-2024/", storage_class=None, checksum=None,
                       no_overwrite=False, part_size=None, concurrency=None)
    small = [dense(work / "docs" / n, s) for n, s in
             (("press-kit.pdf", 2 * MiB + 123_456), ("storyboard.png", 3 * MiB + 77))]
    added: list[int] = []
    win.paths_added.connect(added.append)
    win.add_paths(small, dest)
    pump(lambda: len(added) == 1)
    pump(lambda: all(t.state == "done" for t in win.model.snapshots()))

    # the same name again, set not to overwrite: fails with a sentence
    keep = Destination(**{**dest.__dict__, "no_overwrite": True})
    win.add_paths([dense(work / "docs-final" / "press-kit.pdf", 2 * MiB)], keep)
    pump(lambda: len(added) == 2)
    pump(lambda: any(t.state == "failed" for t in win.model.snapshots()), 30)

    session.engine.set_bandwidth_limit(40 * MiB)
    big = sparse(work / "footage" / "interview-4k-master.mov", 2 * 1024 * MiB + 3 * MiB)
    paused = sparse(work / "footage" / "b-roll-drone.mp4", 640 * MiB)
    queued = [sparse(work / "footage" / "color-grade-v2.mov", 900 * MiB),
              dense(work / "audio" / "voiceover-take3.wav", 6 * MiB + 4321)]
    win.add_paths([big], dest)
    pump(lambda: len(added) == 3)
    win.add_paths([paused, *queued], dest)
    pump(lambda: len(added) == 4)
    pump(lambda: len(win.model.snapshots()) == 7)  # the model follows on the next tick
    ids = {t.name: t.id for t in win.model.snapshots()}
    session.engine.pause([ids["b-roll-drone.mp4"]])
    big_id = ids["interview-4k-master.mov"]
    win.status.bandwidth.set_limit(40 * MiB)
    pump(lambda: (t := win.model.transfer(big_id)) is not None and t.parts_done >= 150, 120)
    # selected now, the parts table opens at the parts being sent
    win.queue.selectRow(win.proxy.mapFromSource(win.model.index(win.model.row_of(big_id), 0))
                        .row())
    settle(0.5)
    save(win, out, "main_window_dark.png" if dark else "main_window.png")
    if dark or main_only:
        return
    from mpugui.ui.accounts.dialog import AccountsDialog
    from mpugui.ui.destination.dialog import DestinationDialog

    dlg = DestinationDialog(win.accounts, session.runner, win.clients,
                            [str(work / "footage"), str(work / "docs")], win)
    dlg.resize(1120, 700)  # its size on a desktop (the offscreen screen is 800x800)
    dlg.show()
    settle(2.0)
    save(dlg, out, "destination_dialog.png")
    dlg.close()
    dlg = AccountsDialog(win.accounts, session.runner, win.clients, win)
    dlg.resize(1000, 720)  # as above
    dlg.show()
    settle(1.0)
    save(dlg, out, "account_dialog.png")
    dlg.close()
    browser = win.ensure_uploads_browser()
    if browser is not None:
        win.tabs.setCurrentIndex(1)
        settle(3.0)
        save(win, out, "uploads_browser.png")
    # Settings > Storage prices, as a Wasabi and an R2 user would fill it in.
    from mpugui.ui.uploads.prices_dialog import EVERY_CLASS, EVERY_STORE

    prices = win.dialogs.open_prices()
    for store, cls, region, price in (
            ("s3.wasabisys.com", EVERY_CLASS, "", 0.0069),
            ("acct.r2.cloudflarestorage.com", "STANDARD", "", 0.015),
            ("acct.r2.cloudflarestorage.com", "STANDARD_IA", "", 0.01),
            (EVERY_STORE, "STANDARD", "eu-west-1", 0.021)):
        prices.add_row(store, cls, region, price)
    prices.resize(760, 420)
    settle(1.0)
    save(prices, out, "prices_dialog.png")
    prices.close()
    session.engine.pause_all()


if __name__ == "__main__":
    raise SystemExit(main())
