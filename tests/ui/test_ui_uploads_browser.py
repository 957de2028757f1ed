"""The in-progress uploads browser through pytest-qt, against moto's HTTP
server: it lists, drills down, aborts, cleans up, adopts and sets the
lifecycle rule. The clock is injected (moto dates every upload 2010-11-10)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from mpugui.core.accounts import Account, AccountStore
from mpugui.core.journal.store import TransferRecord
from mpugui.core.orphans.prices import save_prices
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.states import PAUSED
from mpugui.core.units import MiB
from mpugui.ui.uploads.in_progress_tab import UploadsBrowser
from mpugui.ui.uploads.models import BYTES, COST, JOURNAL, PARTS, UPLOAD_ID
from tests.conftest import MOTO_ACCOUNT, make_file
from tests.functional.test_inventory import MOTO_INITIATED, remaining_ids, start_upload
from tests.functional.test_preflight import denying_s3  # noqa: F401  (a fixture)

NOW = MOTO_INITIATED + timedelta(days=9)
ACCOUNT = MOTO_ACCOUNT  # the account the `store` fixture holds


@pytest.fixture
def make_browser(qtbot, store, runner, journal, engine_factory, tmp_path):
    def make(bucket: str, prefix: str = "", now: datetime = NOW,
             account: str = ACCOUNT) -> UploadsBrowser:
        engine = engine_factory()
        browser = UploadsBrowser(store, runner, ClientFactory(), journal, engine,
                                 now=lambda: now, page_size=2)
        qtbot.addWidget(browser)
        browser.resize(1200, 600)
        browser.show()
        browser.set_location(account, bucket, prefix)
        return browser

    return make


def list_all(qtbot, browser: UploadsBrowser) -> None:
    with qtbot.waitSignal(browser.listing_finished, timeout=15000):
        browser.list_uploads()
    qtbot.waitUntil(lambda: browser.model.totals().pending == 0, timeout=15000)


def test_lists_uploads_made_elsewhere_and_drills_down(qtbot, qtmodeltester, make_browser,
                                                      s3, bucket, journal):
    a = start_upload(s3, bucket, "photos/a.tar", [b"a" * 1000, b"b" * 3000])
    b = start_upload(s3, bucket, "photos/b.tar", [b"c" * 10], ChecksumAlgorithm="CRC32")
    c = start_upload(s3, bucket, "video/c.mov", [])
    journal.add(TransferRecord(source="/tmp/c.mov", bucket=bucket, key="video/c.mov",
                               endpoint=store_endpoint(), size=1, mtime_ns=1, sample="",
                               part_size=5 * MiB, multipart=True, checksum="crc32",
                               upload_id=c, state=PAUSED))
    browser = make_browser(bucket)
    list_all(qtbot, browser)

    model = browser.model
    assert model.rowCount() == 3
    qtmodeltester.check(model)
    qtmodeltester.check(browser.proxy)  # stays attached: the rest goes through it too
    rows = {model.row(i).upload.upload_id: i for i in range(3)}
    assert model.index(rows[a], PARTS).data() == "2"
    assert model.index(rows[a], BYTES).data() == "3.9 KiB"
    assert model.index(rows[c], PARTS).data() == "0"
    assert model.index(rows[c], JOURNAL).data().startswith("#")
    assert model.index(rows[a], JOURNAL).data() == "—"
    full = model.index(rows[a], UPLOAD_ID)
    assert "…" in full.data() and a in full.data(0x03)  # ToolTipRole holds the full ID
    totals = model.totals()
    assert (totals.uploads, totals.parts, totals.bytes, totals.pending) == (3, 3, 4010, 0)
    assert "3</b> uploads" in browser.totals.text() and "estimated" in browser.totals.text()

    with qtbot.waitSignal(browser.parts_shown, timeout=5000) as shown:
        browser.select_upload(a)
    assert shown.args == [a]
    parts = browser.parts_model
    assert parts.rowCount() == 2
    qtmodeltester.check(parts)
    assert [parts.index(r, 1).data() for r in range(2)] == ["1000 B", "2.9 KiB"]
    assert all(len(parts.index(r, 2).data()) == 32 for r in range(2))

    browser.select_upload(b)
    assert browser.parts_model.rowCount() == 1  # cached: shown at once
    assert "CRC32" in browser.parts_title.text()

    browser.copy_ids()
    assert QGuiApplication.clipboard().text() == b

    # Priced from the account scan's table (us-east-1, STANDARD) until the
    # user sets a price for this store; then both follow it.
    assert model.region == "us-east-1" and "AWS's" in browser.price_note.text()
    assert model.price_of(model.row(rows[a]).upload) == 0.023
    save_prices({}, {store_endpoint().endpoint_url: {"*": 1.0}})
    browser.prices_changed()
    assert model.price_of(model.row(rows[a]).upload) == 1.0
    assert "$0.0000" in model.index(rows[a], COST).data()
    assert "your prices for 127.0.0.1" in browser.price_note.text()


def store_endpoint():
    return AccountStore().get(ACCOUNT).endpoint()


def test_prefix_limits_the_list(qtbot, make_browser, s3, bucket):
    start_upload(s3, bucket, "in/x", [b"1"])
    start_upload(s3, bucket, "out/y", [b"2"])
    browser = make_browser(bucket, "in/")
    list_all(qtbot, browser)
    assert [r.upload.key for r in browser.model.rows()] == ["in/x"]


def test_listing_again_while_counting_still_counts_every_row(qtbot, make_browser, s3, bucket):
    ids = {start_upload(s3, bucket, f"r/{n}", [b"r" * (n + 1)]) for n in range(5)}
    browser = make_browser(bucket)
    with qtbot.waitSignal(browser.listing_finished, timeout=15000):
        browser.list_uploads()
    browser.list_uploads()  # parts of the first listing are still in flight
    qtbot.waitUntil(lambda: not browser.listing and browser.model.totals().pending == 0,
                    timeout=15000)
    t = browser.model.totals()
    assert {r.upload.upload_id for r in browser.model.rows()} == ids
    assert (t.uploads, t.parts, t.bytes) == (5, 5, 15)


def test_stop_drops_the_listing(qtbot, make_browser, runner, s3, bucket):
    start_upload(s3, bucket, "late", [b"1"])
    browser = make_browser(bucket)
    with qtbot.waitSignal(browser.listing_finished, timeout=2000):
        browser.list_uploads()
        assert browser.listing and browser.stop_button.isEnabled()
        browser.stop_listing()
    qtbot.waitUntil(lambda: runner.pool.activeThreadCount() == 0, timeout=10000)
    qtbot.waitUntil(lambda: "Stopped" in browser.status_text(), timeout=1000)
    assert browser.model.rowCount() == 0 and not browser.listing  # the late page is dropped
    assert not browser.stop_button.isEnabled()


def test_abort_selected_confirms_with_counts_then_aborts(qtbot, make_browser, s3, bucket):
    doomed = [start_upload(s3, bucket, f"d/{n}", [b"x" * 100, b"y" * 100]) for n in range(2)]
    keep = start_upload(s3, bucket, "d/keep", [b"k"])
    browser = make_browser(bucket)
    list_all(qtbot, browser)
    sel = browser.table.selectionModel()
    for uid in doomed:
        index = browser.proxy.mapFromSource(browser.model.index(browser.model.row_of(uid), 0))
        sel.select(index, QItemSelectionModel.SelectionFlag.Select
                   | QItemSelectionModel.SelectionFlag.Rows)
    box = browser.abort_selected()
    assert box is not None and box.isVisible()  # open(): no nested event loop
    assert "2 uploads holding 4 parts (400 B)" in box.text()
    with qtbot.waitSignal(browser.aborts_finished, timeout=15000) as done:
        box.button(QMessageBox.StandardButton.Yes).click()
    results = done.args[0]
    assert sorted(r.upload.upload_id for r in results) == sorted(doomed)
    assert all(r.ok for r in results)
    assert [r.upload.upload_id for r in browser.model.rows()] == [keep]
    assert remaining_ids(s3, bucket) == {keep}
    assert "Aborted 2 of 2" in browser.status_text()


def test_aborting_the_apps_own_upload_cancels_its_transfer(qtbot, make_browser, s3, bucket,
                                                           journal):
    uid = start_upload(s3, bucket, "own.bin", [b"o" * 10])
    transfer_id = journal.add(TransferRecord(
        source="/nowhere/own.bin", bucket=bucket, key="own.bin", endpoint=store_endpoint(),
        size=10, mtime_ns=1, sample="", part_size=5 * MiB, multipart=True, checksum="crc32",
        upload_id=uid, state=PAUSED))
    browser = make_browser(bucket)
    browser.engine.restore([transfer_id])
    list_all(qtbot, browser)
    assert browser.model.index(0, JOURNAL).data() == f"#{transfer_id} (paused)"
    browser.select_upload(uid)
    with qtbot.waitSignal(browser.aborts_finished, timeout=15000):
        browser.abort_selected().button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: browser.engine.current_snapshot().by_id(transfer_id).state
                    == "cancelled", timeout=10000)
    assert journal.get(transfer_id).state == "cancelled"


def test_cancelling_the_confirmation_aborts_nothing(qtbot, make_browser, s3, bucket):
    uid = start_upload(s3, bucket, "stay", [b"1"])
    browser = make_browser(bucket)
    list_all(qtbot, browser)
    browser.select_upload(uid)
    box = browser.abort_selected()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: browser.confirm_box is None, timeout=2000)
    assert remaining_ids(s3, bucket) == {uid}


def test_cleanup_previews_exactly_what_goes_then_aborts(qtbot, make_browser, s3, bucket):
    old = {start_upload(s3, bucket, f"tmp/{n}", [b"o" * 50]) for n in range(3)}
    other = start_upload(s3, bucket, "keep/z", [b"z"])
    browser = make_browser(bucket, "tmp/", now=MOTO_INITIATED + timedelta(days=8))
    list_all(qtbot, browser)
    dialog = browser.open_cleanup()
    assert not dialog.isModal()

    with qtbot.waitSignal(dialog.previewed, timeout=2000) as seen:
        dialog.days.setValue(9)  # the uploads are 8 days old: none goes
    assert seen.args[0] == [] and not dialog.abort_button.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=2000) as seen:
        dialog.days.setValue(7)
    assert {u.upload_id for u in seen.args[0]} == old
    assert dialog.table.topLevelItemCount() == 3
    assert "Dry run: 3 uploads holding 3 parts (150 B) would be aborted" in \
        dialog.summary.text()
    assert remaining_ids(s3, bucket) == old | {other}  # a preview aborts nothing

    with qtbot.waitSignal(dialog.aborted, timeout=15000) as done:
        dialog.abort_button.click()
    assert all(r.ok for r in done.args[0]) and len(done.args[0]) == 3
    assert dialog.progress.value() == 3
    assert "Aborted 3 of 3" in dialog.summary.text()
    assert {dialog.table.topLevelItem(i).text(6) for i in range(3)} == {"aborted"}
    assert remaining_ids(s3, bucket) == {other}
    assert browser.model.rowCount() == 0


def _another_clients_upload(s3, bucket: str, tmp_path: Path) -> tuple[Path, str]:
    path = make_file(tmp_path / "big.bin", 10 * MiB + 4321, seed=21)
    data = path.read_bytes()
    return path, start_upload(s3, bucket, "big.bin", [data[:5 * MiB], data[5 * MiB:10 * MiB]])


def test_adopt_verifies_then_the_engine_completes(qtbot, make_browser, s3, bucket, tmp_path):
    path, uid = _another_clients_upload(s3, bucket, tmp_path)
    browser = make_browser(bucket)
    list_all(qtbot, browser)
    browser.select_upload(uid)
    dialog = browser.open_adopt()
    dialog.set_file(str(path))
    with qtbot.waitSignal(dialog.verified, timeout=15000) as got:
        dialog.verify_button.click()
    check = got.args[0]
    assert check.ok and check.verified == [1, 2] and check.missing == [3]
    assert dialog.progress.value() == 1000 and dialog.queue_button.isEnabled()

    engine = browser.engine
    with qtbot.waitSignal(browser.adopted, timeout=5000) as queued:
        dialog.queue_button.click()
    transfer_id = queued.args[0]
    qtbot.waitUntil(lambda: engine.current_snapshot().by_id(transfer_id) is not None
                    and engine.current_snapshot().by_id(transfer_id).state == "done",
                    timeout=30000)
    snap = engine.current_snapshot().by_id(transfer_id)
    # Parts 1 and 2 were kept by the engine's reconcile; only part 3 was sent.
    assert [(p.number, p.attempts) for p in snap.parts] == [(1, 0), (2, 0), (3, 1)]
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == path.read_bytes()
    assert uid not in remaining_ids(s3, bucket)
    # the column follows the engine (its state events arrive with the tick)
    qtbot.waitUntil(lambda: browser.model.index(browser.model.row_of(uid), JOURNAL).data()
                    == f"#{transfer_id} (done)", timeout=5000)


def test_adopt_reports_a_tampered_file_part_by_part(qtbot, make_browser, s3, bucket, tmp_path):
    path, uid = _another_clients_upload(s3, bucket, tmp_path)
    with open(path, "r+b") as f:
        f.seek(6 * MiB)
        f.write(b"not the same bytes")
    browser = make_browser(bucket)
    list_all(qtbot, browser)
    browser.select_upload(uid)
    dialog = browser.open_adopt()
    dialog.set_file(str(path))
    with qtbot.waitSignal(dialog.verified, timeout=15000) as got:
        dialog.verify()
    check = got.args[0]
    assert [m.number for m in check.mismatches] == [2]
    assert not dialog.queue_button.isEnabled()
    assert dialog.queue() is None
    assert dialog.details.item(0).text().startswith("Part 2 (bytes 5,242,880–")
    assert "nothing was completed" in dialog.status.text()
    assert uid in remaining_ids(s3, bucket)
    assert browser.journal.transfers() == []


def test_lifecycle_dialog_shows_before_after_and_applies_once(qtbot, make_browser, s3, bucket):
    keep = {"ID": "expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Days": 1}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [keep]})
    browser = make_browser(bucket)
    dialog = browser.open_lifecycle()
    with qtbot.waitSignal(dialog.loaded, timeout=10000):
        pass
    assert "expire-tmp" in dialog.before_text.toPlainText()
    dialog.days.setValue(4)
    after = dialog.after_text.toPlainText()
    assert "expire-tmp" in after and "abort incomplete uploads after 4 days" in after
    with qtbot.waitSignal(dialog.applied, timeout=10000) as got:
        dialog.apply_button.click()
    assert got.args[0].applied
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert keep in rules and len(rules) == 2
    dialog.close()

    again = browser.open_lifecycle()
    with qtbot.waitSignal(again.loaded, timeout=10000):
        pass
    again.days.setValue(4)
    assert not again.apply_button.isEnabled() and "Nothing to change" in again.status.text()


def test_access_denied_names_the_permission(qtbot, make_browser, store,
                                            denying_s3):  # noqa: F811
    store.save(Account("Denied", endpoint_url=denying_s3, region="us-east-1", path_style=True))
    browser = make_browser("allowed-bucket", account="Denied")
    with qtbot.waitSignal(browser.listing_finished, timeout=15000):
        browser.list_uploads()
    assert "s3:ListBucketMultipartUploads" in browser.status_text()
    assert browser.model.rowCount() == 0


def test_screenshot_with_the_sandbox_orphans(qtbot, runner, journal, engine_factory, tmp_path):
    """Renders the view over the sandbox's orphan uploads; with
    MPUGUI_SCREENSHOTS=1 it writes resources/screenshots/uploads_browser.png."""
    from mpugui.core import sandbox as sb

    box = sb.start_sandbox()
    # moto keeps one in-memory backend per process: a sandbox started by an
    # earlier test left its orphans in the same bucket. Keep only ours.
    client = boto3.client("s3", endpoint_url=box.endpoint_url, region_name=sb.REGION,
                          aws_access_key_id=sb.ACCESS_KEY, aws_secret_access_key=sb.SECRET_KEY)
    ours = {upload_id for _, upload_id in box.orphans}
    for u in client.list_multipart_uploads(Bucket=sb.BUCKET).get("Uploads", []):
        if u["UploadId"] not in ours:
            client.abort_multipart_upload(Bucket=sb.BUCKET, Key=u["Key"], UploadId=u["UploadId"])
    try:
        now = MOTO_INITIATED + timedelta(days=12, hours=5)
        browser = UploadsBrowser(AccountStore(), runner, ClientFactory(), journal,
                                 engine_factory(), now=lambda: now)
        qtbot.addWidget(browser)
        browser.resize(1280, 640)
        browser.show()
        browser.set_location(sb.ACCOUNT_NAME, sb.BUCKET)
        list_all(qtbot, browser)
        assert browser.model.rowCount() == len(sb.ORPHANS)
        first = browser.model.rows()[0].upload.upload_id
        with qtbot.waitSignal(browser.parts_shown, timeout=5000):
            browser.select_upload(first)
        shot = browser.grab()
        assert not shot.isNull()
        out = tmp_path / "uploads_browser.png"
        if os.environ.get("MPUGUI_SCREENSHOTS"):
            out = Path(__file__).resolve().parents[2] / "resources" / "screenshots" / \
                "uploads_browser.png"
            out.parent.mkdir(parents=True, exist_ok=True)
        assert shot.save(str(out))
        browser.close()
    finally:
        for key, upload_id in box.orphans:  # leave the shared backend as we found it
            client.abort_multipart_upload(Bucket=sb.BUCKET, Key=key, UploadId=upload_id)
        box.stop()
    assert datetime.now(timezone.utc) > now


class _PagingS3:
    """A small fake S3 client answering like S3 does for a bucket with more
    uploads than one page (moto never truncates ListMultipartUploads)."""

    def __init__(self, total: int) -> None:
        self.keys = [f"k{n:02d}" for n in range(total)]
        self.calls: list[dict] = []

    def list_multipart_uploads(self, **kw):
        self.calls.append(kw)
        start = self.keys.index(kw["KeyMarker"]) + 1 if kw.get("KeyMarker") else 0
        page = self.keys[start:start + kw["MaxUploads"]]
        more = start + len(page) < len(self.keys)
        resp = {"IsTruncated": more, "Uploads": [
            {"Key": k, "UploadId": f"id-{k}", "Initiated": MOTO_INITIATED} for k in page]}
        if more:
            resp.update(NextKeyMarker=page[-1], NextUploadIdMarker=f"id-{page[-1]}")
        return resp

    def get_bucket_location(self, **kw):
        return {"LocationConstraint": "eu-west-1"}

    def list_parts(self, **kw):
        return {"IsTruncated": False, "Parts": [
            {"PartNumber": 1, "Size": 100, "ETag": '"0123456789abcdef0123456789abcdef"'}]}


class _FakeClients:
    def __init__(self, client: _PagingS3) -> None:
        self._client = client

    def client(self, endpoint):
        return self._client


def test_rows_arrive_page_by_page(qtbot, store, runner, journal, engine_factory, tmp_path):
    fake = _PagingS3(5)
    browser = UploadsBrowser(store, runner, _FakeClients(fake), journal, engine_factory(),
                             now=lambda: NOW, page_size=2)
    qtbot.addWidget(browser)
    browser.set_location(ACCOUNT, "paged")
    counts: list[int] = []
    browser.model.rowsInserted.connect(lambda *_: counts.append(browser.model.rowCount()))
    list_all(qtbot, browser)
    assert counts == [2, 4, 5]  # one insertion per page, as the pages arrived
    assert browser.model.region == "eu-west-1"  # priced in the bucket's own region
    assert [c.get("KeyMarker") for c in fake.calls] == [None, "k01", "k03"]
    assert [c.get("UploadIdMarker") for c in fake.calls] == [None, "id-k01", "id-k03"]
    t = browser.model.totals()
    assert (t.uploads, t.parts, t.bytes, t.pending) == (5, 5, 500, 0)


def test_a_failed_abort_is_said_in_the_tab_and_in_the_log(qtbot, make_browser, store, s3,
                                                           bucket, moto_url, caplog):
    """Issue 14: a refused abort said nothing. The tab's status line gives
    the reason and the log (the window's log dock) keeps it."""
    import logging

    from tests.faultproxy import Fault, FaultProxy

    start_upload(s3, bucket, "kept/one.tar", [b"x" * 100])
    with FaultProxy(moto_url) as proxy:
        store.save(Account("via proxy", endpoint_url=proxy.url, region="us-east-1",
                           path_style=True))
        proxy.add(Fault("AbortMultipartUpload", "error", status=403, code="AccessDenied"))
        browser = make_browser(bucket, account="via proxy")
        list_all(qtbot, browser)
        uploads = [r.upload for r in browser.model.rows()]
        caplog.set_level(logging.WARNING, logger="mpugui.ui.uploads")
        with qtbot.waitSignal(browser.aborts_finished, timeout=15000):
            browser.run_aborts(uploads)
        assert "Not aborted" in browser.status_text() and "kept/one.tar" in browser.status_text()
        assert any("Abort of kept/one.tar" in r.getMessage() for r in caplog.records)
        assert browser.model.rowCount() == 1  # still listed: it is still there
