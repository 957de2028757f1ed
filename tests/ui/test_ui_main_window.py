"""The main window against moto over HTTP: real drops (QDropEvent with file
URLs) through the destination dialog, folders with problems, toolbar pause/
resume/cancel, restore from the journal, settings kept across windows,
notifications, and nothing left running after close."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QToolButton

from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.app.main_window import MainWindow
from mpugui.ui.common import settings as cfg
from mpugui.ui.common.messages import MessageBridge
from mpugui.ui.queue.queue_columns import ID_ROLE, SIZE
from tests.conftest import make_file


class Dest:
    """What the destination dialog hands back (the real dialog is driven in
    test_drop_goes_through_the_destination_dialog)."""

    def __init__(self, endpoint: Endpoint, bucket: str, prefix: str = "",
                 no_overwrite: bool = False) -> None:
        self.endpoint, self.bucket, self.prefix = endpoint, bucket, prefix
        self.storage_class = self.checksum = None
        self.no_overwrite = no_overwrite
        self.part_size = self.concurrency = None


@pytest.fixture
def make_window(qtbot, engine_factory, journal):
    """Windows over real engines; after each test every window is closed and
    no engine worker, pool task or window timer may still run."""
    made = []

    def make(**engine_overrides) -> MainWindow:
        engine = engine_factory(**engine_overrides)
        runner = TaskRunner(2)
        bridge = MessageBridge()
        bridge.connect_engine(engine)  # as start_session() does
        window = MainWindow(engine, journal, AccountStore(), runner, ClientFactory(4),
                            bridge, cfg.open_settings())
        qtbot.addWidget(window)
        window.resize(1100, 700)
        window.show()
        made.append((window, engine, runner))
        return window

    yield make
    for window, engine, runner in made:
        window.close()
        running = [(t.parent().metaObject().className(), t.objectName())
                   for t in window.findChildren(QTimer) if t.isActive()]
        assert not running
        assert not engine._timer.isActive()
        # (engine_factory shuts the engine down and checks its workers)
        assert runner.shutdown(), "a pool task still runs after the window closed"


def drop(qtbot, widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = widget.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    assert event.isAccepted()


def states(window: MainWindow) -> dict[str, str]:
    return {t.key: t.state for t in window.model.snapshots()}


def all_done(window: MainWindow, n: int) -> bool:
    s = states(window)
    return len(s) == n and all(v in ("done", "failed") for v in s.values())


def select(window: MainWindow, transfer_id: int) -> None:
    row = window.proxy.mapFromSource(window.model.index(window.model.row_of(transfer_id), 0))
    window.queue.selectRow(row.row())


def button(window: MainWindow, name: str) -> QToolButton:
    widget = window.toolbar.widgetForAction(window.acts[name])
    assert isinstance(widget, QToolButton)
    return widget


def test_drop_goes_through_the_destination_dialog(qtbot, make_window, s3, bucket, moto_url,
                                                   tmp_path: Path) -> None:
    dd = pytest.importorskip("mpugui.ui.destination.dialog")
    AccountStore().save(Account("moto", KEYS, access_key_id="testing", endpoint_url=moto_url,
                                region="us-east-1", path_style=True), "testing")
    settings = cfg.open_settings()
    settings.setValue("destinations/last_account", "moto")
    settings.sync()
    window = make_window()
    a = make_file(tmp_path / "in" / "a.bin", 7 * MiB + 3, seed=1)
    b = make_file(tmp_path / "in" / "b.txt", 999, seed=2)
    drop(qtbot, window.queue.viewport(), [a, b])
    dialog = window.dialogs.kept[-1]
    assert isinstance(dialog, dd.DestinationDialog) and dialog.isVisible()
    assert dialog.paths == [str(a), str(b)]
    dialog.bucket_combo.setEditText(bucket)
    dialog.prefix_edit.setText("dropped")
    with qtbot.waitSignal(window.paths_added, timeout=10000) as added:
        dialog.try_accept()
    assert added.args == [2]
    qtbot.waitUntil(lambda: all_done(window, 2), timeout=60000)
    assert states(window) == {"dropped/a.bin": "done", "dropped/b.txt": "done"}
    for key, src in (("dropped/a.bin", a), ("dropped/b.txt", b)):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == src.read_bytes()


def test_dropped_folder_is_walked_and_problems_are_reported(qtbot, make_window, s3, bucket,
                                                            endpoint, tmp_path: Path) -> None:
    window = make_window()
    root = tmp_path / "photos"
    make_file(root / "2024" / "one.jpg", 12 * MiB + 5, seed=3)
    make_file(root / "2024" / "two.jpg", 4000, seed=4)
    make_file(root / "top.jpg", 10, seed=5)
    os.mkfifo(root / "pipe")
    (root / "2024" / "loop").symlink_to(root, target_is_directory=True)
    loose = make_file(tmp_path / "loose.bin", 20, seed=6)
    # the drop itself, then the destination chosen (bypassing the dialog)
    opened: list[list[str]] = []
    window.offer_paths = lambda paths: opened.append(paths)  # type: ignore[method-assign]
    window.queue.paths_dropped.disconnect()
    window.queue.paths_dropped.connect(window.offer_paths)
    drop(qtbot, window.queue.viewport(), [root, loose])
    assert opened == [[str(root), str(loose)]]
    with qtbot.waitSignal(window.paths_added, timeout=10000) as added:
        window.add_paths(opened[0], Dest(endpoint, bucket, "up/"))
    assert added.args == [4]
    qtbot.waitUntil(lambda: all_done(window, 4), timeout=60000)
    assert set(states(window)) == {"up/photos/2024/one.jpg", "up/photos/2024/two.jpg",
                                   "up/photos/top.jpg", "up/loose.bin"}
    assert set(states(window).values()) == {"done"}
    body = s3.get_object(Bucket=bucket, Key="up/photos/2024/one.jpg")["Body"].read()
    assert body == (root / "2024" / "one.jpg").read_bytes()
    # the FIFO and the loop: in the log, and one message with the details
    problems = [m.sentence for m in window.bridge.history if m.level == "warning"]
    assert any("named pipe" in p for p in problems)
    assert any("loops back" in p for p in problems)
    box = window.alerts.box
    assert box is not None
    assert box.text() == (f"'{root / 'pipe'}' is a named pipe (FIFO), not a file. "
                          f"'{root / '2024' / 'loop'}' loops back to a folder already walked. "
                          "These were skipped.")
    assert "named pipe" in box.detailedText() and "Traceback" not in box.detailedText()
    box.close()
    logged = [m.sentence for m in window.log_dock.model.messages()]
    assert any("named pipe" in s for s in logged)


def test_unreadable_drops_are_said_once_per_cause(qtbot, make_window, s3, bucket, endpoint,
                                                 tmp_path: Path) -> None:
    # Real entries that cannot be read: 8 broken symbolic links, a FIFO, a
    # dropped file deleted before the walk reads it, and (where mode 000
    # stops this process: not as root) 5 unreadable files. One sentence per
    # cause in the message and the log view; the readable files go up.
    window = make_window()
    root = tmp_path / "drop"
    good = [make_file(root / f"ok{i}.bin", 50 + i, seed=i) for i in range(2)]
    for i in range(8):
        (root / f"gone{i}").symlink_to(tmp_path / f"nowhere{i}")
    os.mkfifo(root / "pipe")
    deleted = make_file(tmp_path / "deleted.bin", 10, seed=7)
    locked = [make_file(root / "locked" / f"s{i}.bin", 10, seed=20 + i) for i in range(5)]
    for f in locked:
        os.chmod(f, 0)
    mode_blocks = not os.access(locked[0], os.R_OK)  # root reads mode 000
    if not mode_blocks:
        for f in locked:
            f.unlink()
    deleted.unlink()  # between the drop and the walk
    with qtbot.waitSignal(window.paths_added, timeout=10000) as added:
        window.add_paths([str(root), str(deleted)], Dest(endpoint, bucket, "d/"))
    assert added.args == [2]
    qtbot.waitUntil(lambda: all_done(window, 2), timeout=60000)
    assert states(window) == {f"d/drop/{f.name}": "done" for f in good}
    box = window.alerts.box
    assert box is not None
    text = box.text()
    assert (f"8 symbolic links point to nothing (broken links): '{root / 'gone0'}', "
            f"'{root / 'gone1'}' and 6 more.") in text
    assert f"'{root / 'pipe'}' is a named pipe (FIFO), not a file." in text
    assert f"'{deleted}' does not exist." in text
    if mode_blocks:
        assert "5 files cannot be read (permission denied)" in text
    assert text.endswith("These were skipped.")
    assert "the log file lists every one" in box.detailedText()
    box.close()
    logged = [m.sentence for m in window.log_dock.model.messages()]
    links = [m for m in logged if "symbolic link" in m]
    assert len(links) == 4  # the first three, then the count
    assert links[-1].startswith("8 symbolic links point to nothing")


def test_toolbar_pause_resume_cancel(qtbot, make_window, s3, bucket, endpoint,
                                     tmp_path: Path) -> None:
    window = make_window(concurrency=2, bandwidth_limit=6 * MiB)
    src = make_file(tmp_path / "big.bin", 30 * MiB, seed=7)
    tid = window.engine.add(UploadRequest(str(src), bucket, "big.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.transfer(tid) is not None, timeout=3000)
    select(window, tid)
    qtbot.waitUntil(lambda: window.model.transfer(tid).parts_done >= 1, timeout=30000)
    assert window.part_panel.grid.parts()  # the part view shows the selected transfer
    acts = window.acts
    assert acts["pause"].isEnabled() and not acts["resume"].isEnabled()

    qtbot.mouseClick(button(window, "pause"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "paused", timeout=5000)
    qtbot.waitUntil(lambda: acts["resume"].isEnabled() and not acts["pause"].isEnabled(),
                    timeout=2000)
    qtbot.mouseClick(button(window, "resume"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "uploading", timeout=10000)

    qtbot.mouseClick(button(window, "cancel"), Qt.MouseButton.LeftButton)
    box = window.selection.confirm_box
    assert isinstance(box, QMessageBox) and "deleted from the bucket" in box.informativeText()
    yes = next(b for b in box.buttons() if "delete parts" in b.text())
    qtbot.mouseClick(yes, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "cancelled"
                    and not window.model.transfer(tid).detail, timeout=20000)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert acts["retry"].isEnabled() and acts["remove"].isEnabled()
    assert not acts["cancel"].isEnabled()

    # Retry on a cancelled upload starts it over as a new transfer
    window.engine.set_bandwidth_limit(0)
    qtbot.mouseClick(button(window, "retry"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.transfer(tid) is None
                    and states(window) == {"big.bin": "done"}, timeout=60000)
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == src.read_bytes()
    select(window, window.model.snapshots()[0].id)
    QGuiApplication.clipboard().clear()
    acts["copy_uri"].trigger()
    assert QGuiApplication.clipboard().text() == f"s3://{bucket}/big.bin"
    qtbot.mouseClick(button(window, "remove"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=3000)


def test_restore_from_journal_comes_back_paused_then_resumes(
        qtbot, make_window, engine_factory, s3, bucket, endpoint, tmp_path: Path) -> None:
    src = make_file(tmp_path / "r.bin", 21 * MiB, seed=8)
    first = engine_factory(concurrency=1, bandwidth_limit=8 * MiB)
    tid = first.add(UploadRequest(str(src), bucket, "r.bin", endpoint))
    qtbot.waitUntil(lambda: first.current_snapshot().by_id(tid).parts_done >= 1, timeout=30000)
    first.shutdown()  # the app quit mid-upload
    window = make_window()
    window.engine.restore()
    qtbot.waitUntil(lambda: window.model.transfer(tid) is not None, timeout=3000)
    t = window.model.transfer(tid)
    assert t.state == "paused" and t.parts_done >= 1
    select(window, tid)
    assert window.part_panel.legend.counts()["done"] == t.parts_done
    assert window.acts["resume"].isEnabled()
    window.acts["resume"].trigger()
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "done", timeout=60000)
    assert s3.get_object(Bucket=bucket, Key="r.bin")["Body"].read() == src.read_bytes()
    # finishing while the window watches: a notification (status bar offscreen)
    qtbot.waitUntil(lambda: "Uploaded r.bin" in window.statusBar().toolTip(),
                    timeout=3000)


def test_layout_and_settings_survive_a_restart(qtbot, make_window) -> None:
    window = make_window()
    window.resize(1000, 650)
    window.splitter.setSizes([200, 380])
    window.queue.horizontalHeader().resizeSection(0, 333)
    window.queue.sortByColumn(SIZE, Qt.SortOrder.DescendingOrder)
    window.status.bandwidth.spin.setValue(2.5)
    window.acts["auto_resume"].setChecked(True)
    window.acts["notify"].setChecked(False)
    window.prefs.max_wait_acts[3600].trigger()
    assert window.engine.limiter.rate == int(2.5 * MiB)
    window.close()
    again = make_window()
    assert again.prefs.max_wait_acts[3600].isChecked()
    assert again.engine.settings.max_wait == 3600
    assert not again.acts["notify"].isChecked()
    assert again.queue.horizontalHeader().sectionSize(0) == 333
    assert again.model.sort_column() == SIZE
    assert again.splitter.sizes()[0] < again.splitter.sizes()[1]
    assert again.status.bandwidth.limit() == int(2.5 * MiB)
    assert again.engine.limiter.rate == int(2.5 * MiB)
    assert again.acts["auto_resume"].isChecked()
    text = Path(cfg.open_settings().fileName()).read_text()
    assert "auto_resume=true" in text and "secret" not in text.lower()


def test_hand_edited_settings_fall_back_to_their_defaults(qtbot, make_window) -> None:
    # A value no menu or field could have written (an ini file edited by
    # hand) starts with the default, not with a limit that cannot work.
    settings = cfg.open_settings()
    settings.setValue(cfg.BANDWIDTH_LIMIT.key, "lots")
    settings.setValue(cfg.MAX_WAIT.key, "-60")
    settings.sync()
    window = make_window()
    assert window.status.bandwidth.limit() == 0 and window.engine.limiter.rate == 0
    assert window.prefs.max_wait_acts[0].isChecked() and window.engine.settings.max_wait is None


def test_actions_follow_the_selection_and_the_context_menu_has_them(
        qtbot, make_window, bucket, endpoint, tmp_path: Path) -> None:
    window = make_window()
    window.engine.pause_all()
    src = make_file(tmp_path / "x.bin", 100, seed=9)
    tid = window.engine.add(UploadRequest(str(src), bucket, "x.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.transfer(tid) is not None, timeout=3000)
    assert not window.acts["pause"].isEnabled()  # nothing selected
    select(window, tid)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state in ("paused", "done"),
                    timeout=5000)
    for name in ("pause", "resume", "cancel", "retry", "remove", "copy_uri"):
        act = window.acts[name]
        assert not act.icon().isNull() and act.toolTip()
    assert window.acts["pause"].shortcut().toString() == "Ctrl+P"
    assert window.queue.selectionModel().selectedRows()[0].data(ID_ROLE) == tid
    window.queue.customContextMenuRequested.emit(QPoint(10, 10))
    menus = [w for w in QApplication.topLevelWidgets() if w.inherits("QMenu") and w.isVisible()]
    assert menus and window.acts["cancel"] in menus[0].actions()
    menus[0].close()
    # Accounts… opens the accounts dialog without blocking, once
    if importlib.util.find_spec("mpugui.ui.accounts.dialog") is not None:
        window.acts["accounts"].trigger()
        window.acts["accounts"].trigger()
        dialogs = [d for d in window.dialogs.kept if type(d).__name__ == "AccountsDialog"]
        assert len(dialogs) == 1 and dialogs[0].isVisible() and not dialogs[0].isModal()
        dialogs[0].close()


def test_uncaught_exception_shows_a_sentence_not_a_traceback(qtbot, make_window) -> None:
    import sys
    import threading

    from mpugui.ui.common.messages import install_excepthooks, uninstall_excepthooks

    window = make_window()
    install_excepthooks(window.bridge)
    try:
        try:
            raise PermissionError(13, "Permission denied", "/secret/place")
        except PermissionError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        box = window.alerts.box
        assert box is not None
        assert box.text() == "The file '/secret/place' cannot be read (permission denied)."
        assert "Traceback" not in box.detailedText() and "PermissionError" in box.detailedText()
        box.close()

        def boom() -> None:
            raise RuntimeError("worker broke")

        worker = threading.Thread(target=boom, name="worker-x")
        with qtbot.waitSignal(window.bridge.alert, timeout=3000) as sig:
            worker.start()
            worker.join()
        assert "worker-x" in sig.args[0].sentence and "worker broke" in sig.args[0].sentence
    finally:
        uninstall_excepthooks()
        if window.alerts.box is not None:
            window.alerts.box.close()


def test_failure_is_notified_with_its_sentence(qtbot, make_window, s3, bucket, endpoint,
                                               tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="keep/same.txt", Body=b"already here")
    window = make_window()
    src = make_file(tmp_path / "same.txt", 50, seed=12)
    with qtbot.waitSignal(window.paths_added, timeout=10000):
        window.add_paths([str(src)], Dest(endpoint, bucket, "keep", no_overwrite=True))
    qtbot.waitUntil(lambda: states(window) == {"keep/same.txt": "failed"}, timeout=20000)
    qtbot.waitUntil(lambda: "same.txt failed" in window.statusBar().toolTip(),
                    timeout=3000)
    assert "already exists" in window.statusBar().toolTip()
    t = window.model.snapshots()[0]
    tip = window.model.index(window.model.row_of(t.id), 6).data(Qt.ItemDataRole.ToolTipRole)
    assert "already exists" in tip
    assert s3.get_object(Bucket=bucket, Key="keep/same.txt")["Body"].read() == b"already here"
    # the engine's sentence is in the log view too
    assert any(m.level == "error" and "already exists" in m.sentence
               for m in window.log_dock.model.messages())


def test_two_drops_at_once_are_counted_apart(qtbot, make_window, bucket, endpoint,
                                             tmp_path: Path) -> None:
    window = make_window()
    first = [make_file(tmp_path / "a" / f"{i}.txt", 10, seed=i) for i in range(3)]
    second = [make_file(tmp_path / "b" / f"{i}.txt", 10, seed=10 + i) for i in range(5)]
    counts: list[int] = []
    window.paths_added.connect(counts.append)
    window.add_paths([str(p) for p in first], Dest(endpoint, bucket, "a/"))
    window.add_paths([str(p) for p in second], Dest(endpoint, bucket, "b/"))
    qtbot.waitUntil(lambda: len(counts) == 2, timeout=10000)
    assert sorted(counts) == [3, 5]
    qtbot.waitUntil(lambda: all_done(window, 8), timeout=30000)
    assert {k.split("/")[0] for k in states(window)} == {"a", "b"}
