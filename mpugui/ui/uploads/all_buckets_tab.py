"""The account view: every bucket's unfinished uploads at once — a bar per
bucket (bytes held, coloured by age), sortable by cost, the sentence that
sums it up, Scan/Stop with progress, the selected bucket's uploads below,
"Protect all" and "Abort old uploads" with their previews.

The scan runs as one TaskRunner task (its own bounded pool inside, see
mpugui.core.orphans.scan); its events land in an inbox that a 10 Hz timer
drains into the model in one insert per tick, so the window never waits and
a 500-bucket account costs per tick what arrived in it.

This module puts the pieces together and follows the scan; the pieces are
in all_buckets/: the top row (scan_toolbar), the sentences (scan_summary),
the two tables (bucket_tables, over buckets_model and bucket_bar), the inbox
(scan_inbox), the scan's rows by bucket (scan_rows) and the bulk dialogs
(bulk_dialogs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.listing import journal_index, utc_now
from mpugui.core.journal.store import Journal
from mpugui.core.orphans import memory
from mpugui.core.orphans.prices import PriceTable, load_table
from mpugui.core.orphans.protection import protection_of
from mpugui.core.orphans.results import AccountScan, BucketReport, ScannedUpload
from mpugui.core.orphans.scan import AccountScanner, ScanOutcome
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import plural
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common.account_combo import refill_accounts
from mpugui.ui.common.messages import user_error
from mpugui.ui.uploads.all_buckets import scan_rows
from mpugui.ui.uploads.all_buckets.bucket_tables import bucket_uploads_table, buckets_table
from mpugui.ui.uploads.all_buckets.buckets_model import REPORT_ROLE, BucketsModel
from mpugui.ui.uploads.all_buckets.bulk_dialogs import BulkAbortDialog, ProtectAllDialog
from mpugui.ui.uploads.all_buckets.scan_inbox import ScanInbox
from mpugui.ui.uploads.all_buckets.scan_summary import ScanSummary
from mpugui.ui.uploads.all_buckets.scan_toolbar import ScanToolbar
from mpugui.ui.uploads.models import UploadsModel


class AccountView(QWidget):
    scan_finished = Signal(object)  # ScanOutcome, or the exception that failed the scan
    open_bucket = Signal(str, str)  # account name, bucket: show it in the uploads browser

    def __init__(self, accounts: AccountStore, runner: TaskRunner, clients: ClientFactory,
                 journal: Journal, parent: QWidget | None = None, *,
                 now: Callable[[], datetime] | None = None,
                 cancel_transfers: Callable[[list[int]], None] | None = None,
                 prices: PriceTable | None = None, threads: int = 8) -> None:
        super().__init__(parent)
        self.accounts, self.runner, self.clients, self.journal = accounts, runner, clients, journal
        self.now = now or utc_now
        self._cancel_transfers = cancel_transfers
        self._prices = prices
        self._table: PriceTable = prices or PriceTable()  # what the shown scan used
        self._threads = threads
        self.scan: AccountScan | None = None
        self._scanner: AccountScanner | None = None
        self._inbox: ScanInbox | None = None
        self._by_bucket: dict[str, list[ScannedUpload]] = {}
        self._notes: list[str] = []  # what the scan told that is no failure
        self.dialogs: list[QWidget] = []
        self._timer = QTimer(self, interval=100)
        self._timer.timeout.connect(self._drain)
        self.model = BucketsModel(self.now, self)
        self.uploads_model = UploadsModel(self.now, parent=self)
        self._build()
        self.reload_accounts()

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        """The tab, top to bottom: the account and what to do, the sentences,
        the buckets over the selected one's uploads."""
        self.toolbar = ScanToolbar()
        self.toolbar.account.currentIndexChanged.connect(self._account_changed)
        self.toolbar.scan_clicked.connect(self.toggle_scan)
        self.toolbar.protect_clicked.connect(self.open_protect_all)
        self.toolbar.abort_clicked.connect(self.open_bulk_abort)
        self.sentences = ScanSummary()
        self.table, self.proxy = buckets_table(self.model, self)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._double_clicked)
        self.uploads, self.uploads_proxy = bucket_uploads_table(self.uploads_model, self)
        self.uploads_label = QLabel("Select a bucket to see its uploads; double-click it to "
                                    "open it in In-progress uploads.")
        lower = QWidget()
        low = QVBoxLayout(lower)
        low.setContentsMargins(0, 0, 0, 0)
        low.addWidget(self.uploads_label)
        low.addWidget(self.uploads)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        lay = QVBoxLayout(self)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.sentences)
        lay.addWidget(split, 1)
        # The pieces the tests reach by name.
        self.account, self.scan_button = self.toolbar.account, self.toolbar.scan_button
        self.summary, self.detail = self.sentences.summary, self.sentences.detail
        self._update_actions()

    def reload_accounts(self) -> None:
        """The Accounts dialog saved: list what it holds now, keeping the
        account shown (and its scan) when it is still there."""
        changed, error = refill_accounts(self.account, self.accounts)
        if error:
            self.detail.setText(error)
        if changed:
            self._account_changed()

    def endpoint(self) -> Endpoint:
        data = self.account.currentData()
        return data if isinstance(data, Endpoint) else Endpoint()

    def set_account(self, name: str) -> None:
        i = self.account.findText(name)
        if i >= 0:
            self.account.setCurrentIndex(i)

    def _account_changed(self, *_: Any) -> None:
        """Show the account's last scan (with its age) until a new one runs;
        read off the GUI thread (it can hold every upload of a big account)."""
        if self.scanning:
            self.stop_scan()
        self._show_scan(None)
        endpoint = self.endpoint()
        label = endpoint.label()
        try:
            table = self._table_for(endpoint)
        except MpuguiError as exc:
            self.detail.setText(str(exc))
            table = PriceTable().for_store(endpoint.endpoint_url)  # AWS's, until fixed

        def load() -> AccountScan | None:
            last = memory.load(label)
            if last is not None:
                last.reprice(table)  # today's prices, not those of the day it ran
            return last

        self.runner.run(load, lambda last: self._show_last(label, table, last))

    def _table_for(self, endpoint: Endpoint) -> PriceTable:
        """The prices for this account's store (Settings ▸ Storage prices)."""
        return (self._prices or load_table()).for_store(endpoint.endpoint_url)

    def prices_changed(self) -> None:
        """The user saved new prices: every cost shown is worked out again."""
        endpoint = self.endpoint()
        try:
            table = self._table_for(endpoint)
        except MpuguiError as exc:
            self.detail.setText(str(exc))
            return
        self._table = table
        if self.scan is None or self.scanning:
            return  # a running scan priced with the old table is redone by the next one
        self.scan.reprice(table)
        self.model.add_reports(self.scan.buckets.values())
        self._by_bucket = scan_rows.group(self.scan.uploads)
        self._selection_changed()
        self._update_summary()

    def _show_last(self, label: str, table: PriceTable, last: AccountScan | None) -> None:
        if last is None or label != self.endpoint().label() or self.scanning \
                or self.scan is not None:
            return  # another account, or a scan began meanwhile
        self._table = table
        self._show_scan(last)
        self.sentences.show_last(last, self._notes)
        self._update_actions()

    # -- scanning -----------------------------------------------------------------------

    @property
    def scanning(self) -> bool:
        return self._scanner is not None

    def toggle_scan(self) -> None:
        if self.scanning:
            self.stop_scan()
        else:
            self.start_scan()

    def start_scan(self) -> None:
        if self.scanning:
            return
        endpoint = self.endpoint()
        try:
            prices = self._table = self._table_for(endpoint)
            journal_ids = {uid: r.id for uid, r in journal_index(self.journal).items()}
        except Exception as exc:
            self.detail.setText(user_error(exc))
            return
        now = self.now()
        self._show_scan(AccountScan(endpoint.label(), now))
        inbox = self._inbox = ScanInbox()
        scanner = self._scanner = AccountScanner(
            self.clients, endpoint, inbox, prices=prices, now=now, journal_ids=journal_ids,
            threads=self._threads)
        self.toolbar.scan_started()
        self.sentences.scanning()
        self._update_actions()
        self._timer.start()
        self.runner.run(scanner.run, lambda out: self._scan_ended(scanner, out),
                        lambda exc: self._scan_ended(scanner, exc))

    def stop_scan(self) -> None:
        """Ask the scan to stop; it ends (and says so) once its threads have."""
        if self._scanner is not None:
            self._scanner.stop()
            self.toolbar.stopping()

    def _scan_ended(self, scanner: AccountScanner, outcome: ScanOutcome | BaseException
                    ) -> None:
        if scanner is not self._scanner:
            return
        self._drain()
        self._timer.stop()
        self._scanner, self._inbox = None, None
        scan = self.scan
        self.toolbar.progress.setVisible(False)
        if isinstance(outcome, BaseException):
            self.summary.setText(user_error(outcome))
        elif scan is not None:
            scan.finished, scan.stopped = self.now(), outcome.stopped
            scan.skipped_buckets = outcome.skipped
            self._update_summary()
            self.runner.run(lambda: memory.save(scan))  # JSON of every upload: off this thread
        self._update_actions()
        self.scan_finished.emit(outcome)

    def _drain(self) -> None:
        inbox, scan = self._inbox, self.scan
        if inbox is None or scan is None:
            return
        buckets, uploads = inbox.take()
        self._notes = inbox.notes
        for row in uploads:
            scan.upload_found(row)
        scan_rows.group(uploads, into=self._by_bucket)
        for report in buckets:
            scan.bucket_done(report)
        if buckets:
            self.model.add_reports(buckets)
            self._update_summary()
        self.toolbar.show_progress(inbox.total, len(scan.buckets) + inbox.skipped)

    def _show_scan(self, scan: AccountScan | None) -> None:
        self.scan = scan
        self._notes = []
        self.model.clear()
        self.uploads_model.clear()
        self._by_bucket = {}
        if scan is None:
            self.sentences.idle()
            return
        self._by_bucket = scan_rows.group(scan.uploads)
        self.model.add_reports(scan.buckets.values())
        self._update_summary()

    def _update_summary(self) -> None:
        scan = self.scan
        if scan is None:
            return
        self.sentences.show_totals(scan)
        if not self.scanning:
            self.sentences.show_scanned(scan, self._notes)

    # -- selection ----------------------------------------------------------------------

    def selected_reports(self) -> list[BucketReport]:
        rows = self.table.selectionModel().selectedRows()
        return [r.data(REPORT_ROLE) for r in rows]

    def _selection_changed(self, *_: Any) -> None:
        reports = self.selected_reports()
        self.uploads_model.clear()
        if len(reports) != 1:
            self.uploads_label.setText(f"{len(reports)} buckets selected." if reports else
                                       "Select a bucket to see its uploads.")
            return
        report = reports[0]
        rows = self._by_bucket.get(report.name, [])
        self.uploads_model.add_page(scan_rows.upload_rows(rows))
        # Priced as the scan priced them: by storage class in the bucket's region.
        self.uploads_model.set_prices(self._table, report.region)
        self.uploads_label.setText(
            f"{report.name}: {plural(report.uploads, 'unfinished upload')}"
            + (f" — {report.protection.sentence()}" if report.protection else "")
            + (f" — {report.error}" if report.error else ""))

    def _double_clicked(self, index: Any) -> None:
        report = index.data(REPORT_ROLE)
        if isinstance(report, BucketReport):
            self.open_bucket.emit(self.account.currentText(), report.name)

    def _update_actions(self) -> None:
        self.toolbar.enable(scanning=self.scanning,
                            has_buckets=self.scan is not None and bool(self.scan.buckets))

    # -- bulk actions -------------------------------------------------------------------

    def _keep(self, dialog: QDialog) -> QDialog:
        # A closed dialog is only hidden and goes with the view: with
        # WA_DeleteOnClose, a view deleted while a closed dialog's deferred
        # delete was still pending crashed PySide (seen in the tests), and
        # these dialogs are few (one per click of their button).
        # The view (their Qt parent) owns the hidden ones; the list holds
        # those still open.
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]
        dialog.show()
        return dialog

    def open_protect_all(self) -> ProtectAllDialog | None:
        if self.scan is None:
            return None
        reports = self.selected_reports() or list(self.scan.buckets.values())
        targets = [(r.name, r.region) for r in reports if r.region]
        dialog = ProtectAllDialog(self.runner, self.clients, self.endpoint(), targets, self)
        dialog.applied.connect(self._protected)
        self._keep(dialog)
        return dialog

    def _protected(self, results: list[Any]) -> None:
        for r in results:
            if r.change is not None:
                self.model.set_protection(r.bucket, protection_of(r.change.after))
        self._update_summary()

    def open_bulk_abort(self) -> BulkAbortDialog | None:
        if self.scan is None:
            return None
        dialog = BulkAbortDialog(self.runner, self.clients, self.endpoint(),
                                 list(self.scan.uploads), self.now(), self,
                                 cancel_transfers=self._cancel_transfers)
        dialog.finished_aborts.connect(self._aborted)
        self._keep(dialog)
        return dialog

    def _aborted(self, results: list[tuple[ScannedUpload, AbortResult]]) -> None:
        if self.scan is None or not any(r.ok for _, r in results):
            return
        self.model.add_reports(scan_rows.drop_aborted(self.scan, self._by_bucket, results))
        self._selection_changed()
        self._update_summary()

    # -- closing ------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop a running scan (its task ends once its threads have) and
        close the dialogs."""
        if self._scanner is not None:
            self._scanner.stop()
        self._timer.stop()
        for dialog in list(self.dialogs):
            dialog.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
