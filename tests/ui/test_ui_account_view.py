"""The account view against moto: a scan fills the bucket table (sorted by
cost, a bar per bucket), the summary sentence, the selected bucket's uploads;
Stop leaves no thread; Protect all previews, applies and is idempotent; the
bulk abort previews exactly, then aborts. Driven through the widgets."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from mpugui.core.accounts import Account
from mpugui.core.journal.store import TransferRecord
from mpugui.core.orphans import memory
from mpugui.core.orphans.protection import PROTECTED
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.states import PAUSED
from mpugui.core.units import MiB
from mpugui.ui.uploads.all_buckets.buckets_model import BUCKET, REPORT_ROLE
from mpugui.ui.uploads.all_buckets_tab import AccountView
from tests.conftest import MOTO_ACCOUNT
from tests.functional import test_orphans_scan as scan_fixtures

fresh_account = scan_fixtures.fresh_account
account = scan_fixtures.account
OTHER_RULE = scan_fixtures.OTHER_RULE
NOW = datetime(2010, 11, 20, tzinfo=timezone.utc)


@pytest.fixture
def view(qtbot, store, runner, journal, account):
    v = AccountView(store, runner, ClientFactory(), journal, now=lambda: NOW, threads=3)
    qtbot.addWidget(v)
    v.set_account(MOTO_ACCOUNT)
    v.resize(1200, 700)
    v.show()
    yield v
    v.shutdown()


def scanned(qtbot, view):
    with qtbot.waitSignal(view.scan_finished, timeout=120_000) as sig:
        view.scan_button.click()
    return sig.args[0]


def test_scan_fills_the_table_sorted_by_cost_with_the_sentence(qtbot, qtmodeltester, view,
                                                               account):
    b = account["buckets"]
    outcome = scanned(qtbot, view)
    assert not outcome.stopped
    qtmodeltester.check(view.model)
    qtmodeltester.check(view.proxy)
    assert view.model.rowCount() == 4
    first = view.proxy.index(0, BUCKET).data(REPORT_ROLE)
    assert first.name == b["west"]  # 3000 bytes: the costliest bucket comes first
    assert view.summary.text().startswith("4.4 KiB in 4 unfinished uploads")
    # moto lists no directory buckets: said once, next to the scan's time.
    assert "does not list directory buckets" in view.detail.text()
    # Selecting a bucket shows its uploads.
    row = next(r for r in range(4) if view.proxy.index(r, BUCKET).data() == b["east"])
    view.table.selectRow(row)
    assert view.uploads_model.rowCount() == 2
    qtmodeltester.check(view.uploads_proxy)
    # Remembered (written off the GUI thread, after the scan ends).
    qtbot.waitUntil(lambda: memory.load(view.endpoint().label()) is not None, timeout=30_000)
    # A view opened later shows it, with its time, before any new scan.
    later = AccountView(view.accounts, view.runner, ClientFactory(), view.journal,
                        now=lambda: NOW)
    qtbot.addWidget(later)
    later.set_account(MOTO_ACCOUNT)
    qtbot.waitUntil(lambda: later.model.rowCount() == 4, timeout=30_000)
    assert later.detail.text().startswith("Last scan 2010-11-")
    assert later.summary.text() == view.summary.text()
    assert not [t for t in threading.enumerate() if t.name.startswith("orphans-scan")]


def test_stop_ends_the_scan_and_leaves_no_thread(qtbot, view):
    with qtbot.waitSignal(view.scan_finished, timeout=120_000) as sig:
        view.scan_button.click()
        view.scan_button.click()  # Stop
    assert sig.args[0].stopped
    assert not view.scanning and view.scan_button.text() == "Scan account"
    assert not [t for t in threading.enumerate() if t.name.startswith("orphans-scan")]


def test_protect_all_previews_applies_and_then_has_nothing_to_do(qtbot, view, account):
    b = account["buckets"]
    scanned(qtbot, view)
    dialog = view.open_protect_all()
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=60_000)
    assert "3 buckets would change, 1 already do this" in dialog.status.text()
    dialog.days.setValue(7)
    with qtbot.waitSignal(dialog.applied, timeout=60_000):
        dialog.apply_button.click()
    west = account["west"].get_bucket_lifecycle_configuration(Bucket=b["west"])["Rules"]
    assert OTHER_RULE in west
    for r in range(4):
        report = view.model.report(r)
        assert report.protection is not None and report.protection.status == PROTECTED
    dialog.close()
    again = view.open_protect_all()
    assert again is not None
    with qtbot.waitSignal(again.previewed, timeout=60_000):
        pass
    assert "0 buckets would change, 4 already do this" in again.status.text()
    assert not again.apply_button.isEnabled()
    again.close()


def test_bulk_abort_previews_exactly_asks_for_queued_ones_then_aborts(
        qtbot, store, runner, journal, account, endpoint):
    b, ids = account["buckets"], account["ids"]
    mine = journal.add(TransferRecord(
        source="/nowhere/w.bin", bucket=b["west"], key="w.bin", endpoint=endpoint, size=3000,
        mtime_ns=1, sample="", part_size=5 * MiB, multipart=True, checksum="crc32",
        upload_id=ids["w1"], state=PAUSED))
    cancelled: list[list[int]] = []
    # Built here, not by the fixture: the view is deleted at teardown right
    # after its dialog closed, which crashed while dialogs were WA_DeleteOnClose.
    view = AccountView(store, runner, ClientFactory(), journal, now=lambda: NOW,
                       cancel_transfers=cancelled.append)
    qtbot.addWidget(view)
    view.set_account(MOTO_ACCOUNT)
    scanned(qtbot, view)
    dialog = view.open_bulk_abort()
    assert dialog is not None
    dialog.days.setValue(30)
    assert dialog.candidates == [] and not dialog.abort_button.isEnabled()
    dialog.days.setValue(5)
    assert len(dialog.candidates) == 4 and "4 uploads in 3 buckets" in dialog.summary.text()
    assert f"#{mine}" in dialog.summary.text()  # the queue's own upload is named
    before = scan_fixtures.remaining_ids(account["east"], b["east"])
    assert len(before) == 2  # the preview changed nothing
    dialog.abort_button.click()
    assert dialog.asking and "queue" in dialog.question.text()
    assert len(scan_fixtures.remaining_ids(account["east"], b["east"])) == 2  # asked first
    with qtbot.waitSignal(dialog.finished_aborts, timeout=60_000):
        dialog.abort_button.click()
    assert scan_fixtures.remaining_ids(account["east"], b["east"]) == set()
    assert scan_fixtures.remaining_ids(account["west"], b["west"]) == set()
    assert cancelled == [[mine]]
    assert sum(r.uploads for r in view.model.reports()) == 0
    assert view.summary.text().startswith("No unfinished uploads")
    dialog.close()


def test_the_uploads_table_prices_by_class_and_region(qtmodeltester):
    from mpugui.core.inventory.listing import Upload, Usage
    from mpugui.core.orphans.prices import PriceTable
    from mpugui.core.units import GiB
    from mpugui.ui.uploads.models import UploadRow, UploadsModel

    model = UploadsModel(lambda: NOW)
    up = Upload("b", "k", "u1", NOW, storage_class="STANDARD_IA")
    model.add_page([UploadRow(up, Usage(1, GiB))])
    # AWS's table, class by class: STANDARD_IA in us-east-1 until told the region.
    assert model.totals().cost == pytest.approx(0.0125)
    model.set_prices(PriceTable().with_overrides({"eu-west-1/STANDARD_IA": 0.5}), "eu-west-1")
    assert model.price_of(up) == 0.5 and model.totals().cost == pytest.approx(0.5)
    qtmodeltester.check(model)


def test_follows_the_accounts_dialog_keeping_the_account_shown(qtbot, view, store) -> None:
    names = [view.account.itemText(i) for i in range(view.account.count())]
    shown = names[-1]  # not the first: a reload that forgot it would show another
    view.set_account(shown)
    store.save(Account("added-later", endpoint_url="http://127.0.0.1:9"))
    view.reload_accounts()
    now = [view.account.itemText(i) for i in range(view.account.count())]
    assert "added-later" in now and set(names) <= set(now)
    assert view.account.currentText() == shown
