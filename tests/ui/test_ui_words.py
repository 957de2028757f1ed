"""The window's words (issue 14): a filter that hides everything says so,
the cancel question offers "Keep uploading" only for what uploads, the
destination dialog does not propose a bucket that is not there, counts are
in the plural they need."""

from __future__ import annotations

from pathlib import Path

from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.units import plural
from mpugui.engine.engine import UploadRequest
from mpugui.ui.common import settings as cfg
from tests.conftest import make_file
from tests.ui import test_ui_main_window as main_window_tests
from tests.ui.test_ui_main_window import select

make_window = main_window_tests.make_window  # the fixture: windows over real engines


def test_plural() -> None:
    assert plural(1, "file") == "1 file" and plural(2, "file") == "2 files"
    assert plural(10_000, "part") == "10,000 parts" and plural(0, "upload") == "0 uploads"


def test_a_filter_that_matches_nothing_says_so(qtbot, make_window, bucket, endpoint,
                                               tmp_path: Path) -> None:
    window = make_window()
    assert window.queue.no_match_text() == ""  # empty queue: the drop placeholder
    window.engine.pause_all()
    src = make_file(tmp_path / "a.bin", 10, seed=1)
    window.engine.add(UploadRequest(str(src), bucket, "a.bin", endpoint))
    qtbot.waitUntil(lambda: window.model.total() == 1, timeout=3000)
    window.filter_edit.setText("zebra")
    assert window.queue.no_match_text() == "No transfer matches “zebra”."
    window.filter_edit.setText("a.b")
    assert window.queue.no_match_text() == ""


def test_cancelling_a_failed_transfer_does_not_offer_to_keep_uploading(
        qtbot, make_window, endpoint, tmp_path: Path) -> None:
    window = make_window()
    src = make_file(tmp_path / "f.bin", 10, seed=2)
    tid = window.engine.add(UploadRequest(str(src), "no-such-bucket-here", "f", endpoint))
    qtbot.waitUntil(lambda: getattr(window.model.transfer(tid), "state", "") == "failed",
                    timeout=20000)
    select(window, tid)
    window.selection.confirm_cancel()
    box = window.selection.confirm_box
    assert box is not None
    texts = [b.text() for b in box.buttons()]
    assert "Keep the upload" in texts and "Keep uploading" not in texts
    box.reject()


def test_destination_dialog_drops_a_remembered_bucket_that_is_not_listed(
        qtbot, make_window, bucket, moto_url, tmp_path: Path) -> None:
    AccountStore().save(Account("moto", KEYS, access_key_id="testing", endpoint_url=moto_url,
                                region="us-east-1", path_style=True), "testing")
    settings = cfg.open_settings()
    settings.setValue("destinations/last_account", "moto")
    settings.setValue("destinations/moto/bucket", "no-such-bucket-here")
    settings.sync()
    window = make_window()
    dialog = window.offer_paths([str(make_file(tmp_path / "x.bin", 10, seed=3))])
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.bucket_combo.count() > 0, timeout=10000)
    assert dialog.bucket_combo.currentText() != "no-such-bucket-here"
    assert "no-such-bucket-here" in dialog.bucket_note.text()
    dialog.close()
