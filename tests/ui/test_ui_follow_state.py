"""The window follows every state change (issue 14): actions, the part
legend and the parts pane without a click; progress is what the server has
acknowledged; the parts pane belongs to the queue tab; the In-progress tab
follows the Accounts dialog. Real engines against moto."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from mpugui.core.accounts import KEYS, Account
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from mpugui.ui.common import settings as cfg
from mpugui.ui.queue.queue_columns import STATE
from tests.conftest import make_file
from tests.ui import test_ui_main_window as main_window_tests
from tests.ui.test_ui_main_window import select

make_window = main_window_tests.make_window  # the fixture: windows over real engines


def test_actions_follow_a_selected_upload_that_finishes(qtbot, make_window, bucket, endpoint,
                                                        tmp_path: Path) -> None:
    window = make_window(concurrency=2, bandwidth_limit=8 * MiB)
    src = make_file(tmp_path / "f.bin", 17 * MiB, seed=1)
    other = make_file(tmp_path / "g.bin", 10, seed=2)  # two rows: not "all selected"
    tid = window.engine.add(UploadRequest(str(src), bucket, "f.bin", endpoint))
    window.engine.add(UploadRequest(str(other), bucket, "g.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    select(window, tid)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "uploading", timeout=10000)
    assert window.acts["cancel"].isEnabled() and not window.acts["remove"].isEnabled()
    window.engine.set_bandwidth_limit(0)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "done", timeout=30000)
    qtbot.waitUntil(lambda: window.acts["remove"].isEnabled()
                    and not window.acts["cancel"].isEnabled(), timeout=2000)


def test_legend_and_progress_follow_a_pause(qtbot, make_window, bucket, endpoint,
                                            tmp_path: Path) -> None:
    window = make_window(concurrency=3, bandwidth_limit=6 * MiB)
    src = make_file(tmp_path / "p.bin", 40 * MiB, seed=3)
    tid = window.engine.add(UploadRequest(str(src), bucket, "p.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.transfer(tid) is not None, timeout=3000)
    select(window, tid)
    legend = window.part_panel.legend
    qtbot.waitUntil(lambda: legend.counts()["uploading"] > 0, timeout=10000)
    t = window.model.transfer(tid)
    stored = sum(p.size for p in t.parts if p.state == "done")
    assert t.fraction == stored / t.size  # bodies in flight do not count as progress
    window.acts["pause"].trigger()
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "paused", timeout=5000)
    qtbot.waitUntil(lambda: legend.counts()["uploading"] == 0, timeout=5000)


def test_parts_pane_empties_when_nothing_is_selected(qtbot, make_window, bucket, endpoint,
                                                     tmp_path: Path) -> None:
    window = make_window()
    window.engine.pause_all()
    src = make_file(tmp_path / "s.bin", 10, seed=4)
    tid = window.engine.add(UploadRequest(str(src), bucket, "s.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.transfer(tid) is not None, timeout=3000)
    select(window, tid)
    assert window.part_panel.model.transfer_id == tid
    window.queue.clearSelection()
    assert window.part_panel.model.transfer_id is None
    select(window, tid)
    window.filter_edit.setText("matches nothing")  # the row is hidden
    assert window.part_panel.model.transfer_id is None


def test_parts_pane_belongs_to_the_queue_and_can_be_hidden(qtbot, make_window) -> None:
    window = make_window()
    browser = window.ensure_uploads_browser()
    assert browser is not None
    assert not browser.isAncestorOf(window.part_panel)
    assert window.tabs.widget(0).isAncestorOf(window.part_panel)
    window.tabs.setCurrentIndex(1)
    assert not window.part_panel.isVisible()  # the browser has the whole height
    window.tabs.setCurrentIndex(0)
    window.acts["show_parts"].setChecked(False)
    assert window.part_panel.isHidden()
    window.close()
    again = make_window()
    assert not again.acts["show_parts"].isChecked() and again.part_panel.isHidden()
    assert not cfg.get(cfg.open_settings(), cfg.SHOW_PARTS)


def test_in_progress_tab_follows_the_accounts_dialog(qtbot, make_window, moto_url) -> None:
    window = make_window()
    browser = window.ensure_uploads_browser()
    dialog = window.dialogs.open_accounts()
    assert browser is not None and dialog is not None
    names = [browser.account.itemText(i) for i in range(browser.account.count())]
    assert "fresh" not in names
    window.accounts.save(Account("fresh", KEYS, access_key_id="testing",
                                 endpoint_url=moto_url, region="us-east-1"), "testing")
    dialog.accounts_changed.emit()  # what the dialog emits after its own save
    names = [browser.account.itemText(i) for i in range(browser.account.count())]
    assert "fresh" in names
    fixed = moto_url.replace("127.0.0.1", "localhost")
    window.accounts.save(Account("fresh", KEYS, access_key_id="testing", endpoint_url=fixed,
                                 region="us-east-1"), "testing")
    dialog.accounts_changed.emit()
    browser.account.setCurrentIndex(browser.account.findText("fresh"))
    assert browser.endpoint().endpoint_url == fixed


def test_a_failed_cancel_is_said_where_the_user_acted(qtbot, make_window, moto_url, bucket,
                                                      tmp_path: Path) -> None:
    from mpugui.core.s3.endpoint import Endpoint
    from tests.faultproxy import Fault, FaultProxy

    with FaultProxy(moto_url) as proxy:
        via = Endpoint(endpoint_url=proxy.url, region="us-east-1")
        window = make_window(concurrency=1, bandwidth_limit=4 * MiB)
        src = make_file(tmp_path / "c.bin", 20 * MiB, seed=5)
        tid = window.engine.add(UploadRequest(str(src), bucket, "c.bin", via))
        qtbot.waitUntil(lambda: bool(getattr(window.model.transfer(tid), "upload_id", None))
                        and window.model.row_of(tid) is not None, timeout=10000)
        proxy.add(Fault("AbortMultipartUpload", "error", status=403, code="AccessDenied"))
        select(window, tid)
        window.selection.confirm_cancel()
        box = window.selection.confirm_box
        assert box is not None
        qtbot.mouseClick(window.selection._cancel_yes, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.model.transfer(tid).state == "failed", timeout=20000)
        t = window.model.transfer(tid)
        assert t.detail.startswith("Cancel failed")
        cell = window.model.index(window.model.row_of(tid), STATE)
        assert "Cancel failed" in cell.data(Qt.ItemDataRole.ToolTipRole)  # the row says it
        assert "Cancel failed" in window.statusBar().toolTip()  # where the user is
        # log dock: the engine's message is a queued signal from the abort's worker
        qtbot.waitUntil(lambda: any("Cancel failed" in m.sentence
                                    for m in window.bridge.history), timeout=10000)
        assert window.acts["retry"].isEnabled() and window.acts["cancel"].isEnabled()
        window.close()


def test_actions_follow_the_only_row_when_it_finishes(qtbot, make_window, bucket, endpoint,
                                                      tmp_path: Path) -> None:
    """One row selected is every row selected: the states come from the
    model's counts, which must follow the change too."""
    window = make_window(concurrency=2, bandwidth_limit=8 * MiB)
    src = make_file(tmp_path / "only.bin", 17 * MiB, seed=6)
    tid = window.engine.add(UploadRequest(str(src), bucket, "only.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.row_of(tid) is not None, timeout=3000)
    select(window, tid)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "uploading", timeout=10000)
    assert window.acts["cancel"].isEnabled() and not window.acts["remove"].isEnabled()
    window.engine.set_bandwidth_limit(0)
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "done", timeout=30000)
    qtbot.waitUntil(lambda: window.acts["remove"].isEnabled()
                    and not window.acts["cancel"].isEnabled(), timeout=2000)


def test_a_retry_that_fails_again_is_said_where_the_user_acted(qtbot, make_window, endpoint,
                                                                tmp_path: Path) -> None:
    window = make_window()
    src = make_file(tmp_path / "r.bin", 1024, seed=6)
    tid = window.engine.add(UploadRequest(str(src), "no-such-bucket-here", "r.bin", endpoint))
    qtbot.waitUntil(lambda: getattr(window.model.transfer(tid), "state", "") == "failed",
                    timeout=20000)
    window.statusBar().clearMessage()
    select(window, tid)
    window.selection.retry_selected()
    qtbot.waitUntil(lambda: "r.bin" in window.statusBar().toolTip(), timeout=20000)
    assert "does not exist" in window.statusBar().toolTip()
    assert window.acts["retry"].isEnabled()  # what can be done next
    window.close()


def test_remove_says_which_running_transfers_it_kept(qtbot, make_window, bucket, endpoint,
                                                     tmp_path: Path) -> None:
    window = make_window(concurrency=1, bandwidth_limit=1 * MiB)
    done = window.engine.add(UploadRequest(str(make_file(tmp_path / "d.bin", 1024, seed=7)),
                                           bucket, "d.bin", endpoint))
    qtbot.waitUntil(lambda: getattr(window.model.transfer(done), "state", "") == "done",
                    timeout=20000)
    busy = window.engine.add(UploadRequest(str(make_file(tmp_path / "b.bin", 30 * MiB, seed=8)),
                                           bucket, "b.bin", endpoint))
    qtbot.waitUntil(lambda: getattr(window.model.transfer(busy), "state", "") == "uploading",
                    timeout=20000)
    window.queue.selectAll()
    window.selection.remove_selected()
    assert "1 transfer still running was not removed" in window.statusBar().toolTip()
    assert window.model.transfer(busy) is not None
    window.close()


def test_a_sentence_too_long_for_the_status_bar_is_shortened_not_cut(qtbot, make_window) -> None:
    # At 1366 px the counts, the speed graph and the limit leave ~550 px for
    # a message: a longer one ends in "…" (not mid-word), with the whole
    # sentence in the tooltip and in the log view.
    window = make_window()
    window.resize(1024, 600)
    long = ("big.bin: Cancel failed: The endpoint could not be reached "
            "(http://127.0.0.1:9/): the connection was refused (nothing is listening on "
            "port 9 of 127.0.0.1). The upload and its parts stay; Cancel again when it is back.")
    window.statusBar().showMessage(long, 5000)
    shown = window.statusBar().currentMessage()
    assert shown.endswith("… — whole in the log (Ctrl+L)") and shown.startswith("big.bin: Cancel")
    metrics = window.statusBar().fontMetrics()
    assert metrics.horizontalAdvance(shown) <= window.statusBar().width() - window.status.width()
    assert window.statusBar().toolTip() == long
    assert long in [m.sentence for m in window.log_dock.model.messages()]
    window.statusBar().showMessage("Copied s3://b/k", 5000)  # a short one is left alone
    assert window.statusBar().currentMessage() == "Copied s3://b/k"
