"""The In-progress uploads tab: a bucket's unfinished multipart uploads
(billed storage no object listing shows) with their parts, bytes and an
estimated monthly cost; abort, clean up by age, adopt with the local file,
and the lifecycle rule that aborts them server-side.

This module puts the pieces together and follows the listing; the pieces
are in in_progress/: where to look (location_bar), the actions
(upload_actions), the uploads (uploads_table, over ../models) over the
selected one's parts (parts_pane), the totals (totals_bar), the abort
question and summary (abort_flow), the app's own transfers (journal_link)
and the dialogs (dialogs/: cleanup, adopt, lifecycle). The S3 calls (a
ListMultipartUploads page per task, rows appearing as pages arrive;
ListParts per row, a few at a time, cached; aborts one after the other) are
engine/inventory_controller.py's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QShowEvent
from PySide6.QtWidgets import QFrame, QMessageBox, QSplitter, QVBoxLayout, QWidget

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.errors import UploadGone
from mpugui.core.inventory.listing import PAGE_SIZE, PartInfo, Upload, parse_time, usage, utc_now
from mpugui.core.journal.store import Journal
from mpugui.core.orphans.prices import PriceTable, load_table
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.states import QUEUED
from mpugui.core.units import plural
from mpugui.engine.engine import TransferEngine
from mpugui.engine.inventory_controller import InventoryController
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common.messages import user_error
from mpugui.ui.uploads.in_progress.abort_flow import AbortQuestion, abort_summary, describe_uploads
from mpugui.ui.uploads.in_progress.journal_link import JournalLink
from mpugui.ui.uploads.in_progress.location_bar import LocationBar
from mpugui.ui.uploads.in_progress.parts_pane import PartsPane
from mpugui.ui.uploads.in_progress.totals_bar import TotalsBar
from mpugui.ui.uploads.in_progress.upload_actions import ActionBar
from mpugui.ui.uploads.in_progress.uploads_table import UploadsTable
from mpugui.ui.uploads.models import COLUMNS, UploadsModel, short_id

NOW_ENV = "MPUGUI_NOW"  # tests only: the clock ages are measured from (ISO 8601)


def default_now() -> datetime:
    text = os.environ.get(NOW_ENV)
    return parse_time(text) if text else utc_now()


class UploadsBrowser(QWidget):
    listing_finished = Signal()  # every page arrived, or the listing stopped or failed
    usage_loaded = Signal(str)  # upload id whose parts arrived (or failed)
    parts_shown = Signal(str)  # upload id shown in the parts table
    aborts_finished = Signal(object)  # list[inventory.AbortResult]
    adopted = Signal(int)  # transfer id queued into the engine
    prices_requested = Signal()  # "Storage prices…": the window opens Settings' prices

    def __init__(self, accounts: AccountStore, runner: TaskRunner, clients: ClientFactory,
                 journal: Journal, engine: TransferEngine, parent: QWidget | None = None,
                 *, now: Callable[[], datetime] | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self.accounts, self.runner, self.clients = accounts, runner, clients
        self.journal, self.engine = journal, engine
        self.now = now or default_now
        self.inventory = InventoryController(runner, clients, page_size, self)
        self.inventory.page_listed.connect(self._page_listed)
        self.inventory.listing_done.connect(self._listing_done)
        self.inventory.listing_failed.connect(self._list_failed)
        self.inventory.parts_listed.connect(self._parts_arrived)
        self.inventory.parts_failed.connect(self._parts_failed)
        self.dialogs: list[QWidget] = []
        self.last_results: list[AbortResult] = []
        self.model = UploadsModel(self.now, parent=self)
        self._prices_error: str | None = None
        self.journal_link = JournalLink(journal, engine, self.model, self)
        self.abort_question = AbortQuestion(self)
        self.abort_question.confirmed.connect(self.run_aborts)
        self._build()
        self.reload_accounts()
        self._update_actions()
        self._update_totals()

    # -- layout -----------------------------------------------------------------------

    def _build(self) -> None:
        """The tab, top to bottom: where to look, what to do, the uploads over
        the selected one's parts, and the totals."""
        self.where = LocationBar(self.accounts, self.runner, self.clients)
        self.where.list_requested.connect(self.list_uploads)
        self.where.stop_requested.connect(self.stop_listing)
        self.where.account_changed.connect(self._account_changed)
        self.where.problem.connect(self._say_problem)
        self.actions_bar = ActionBar()
        for signal, slot in ((self.actions_bar.abort, self.abort_selected),
                             (self.actions_bar.cleanup, self.open_cleanup),
                             (self.actions_bar.adopt, self.open_adopt),
                             (self.actions_bar.lifecycle, self.open_lifecycle),
                             (self.actions_bar.copy_ids, self.copy_ids),
                             (self.actions_bar.copy_uris, self.copy_uris)):
            signal.connect(slot)
        self.table = UploadsTable(self.model)
        self.proxy = self.table.proxy
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.copy_requested.connect(self.copy_ids)
        self.table.menu_requested.connect(self._context_menu)
        self.parts = PartsPane()
        self.footer = TotalsBar()
        self.footer.prices_requested.connect(self.prices_requested)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.parts)
        # The uploads first: at 1024x600 equal shares left 4 rows of them.
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([3000, 1000])
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addWidget(self.actions_bar)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(line)
        layout.addWidget(self.footer)
        # The pieces the window's tests and screenshots reach by name.
        self.account, self.bucket = self.where.account, self.where.bucket
        self.prefix, self.stop_button = self.where.prefix, self.where.stop_button
        self.parts_title, self.parts_model = self.parts.title, self.parts.model
        self.totals, self.price_note = self.footer.totals, self.footer.price_note

    # -- where to look ------------------------------------------------------------------

    def reload_accounts(self) -> None:
        self.where.reload_accounts()

    def endpoint(self) -> Endpoint:
        return self.where.endpoint()

    def set_location(self, account: str, bucket: str, prefix: str = "") -> None:
        """Point the view at a bucket (the window uses it for the sandbox)."""
        self.where.set_location(account, bucket, prefix)

    def location(self) -> tuple[Endpoint, str, str] | None:
        """Where the last listing looked (None before the first)."""
        return self.inventory.location

    def _account_changed(self) -> None:
        self._load_prices(self.endpoint())

    def _load_prices(self, endpoint: Endpoint) -> None:
        """The account scan's table, as it prices this account's store."""
        try:
            table, self._prices_error = load_table(endpoint_url=endpoint.endpoint_url), None
        except MpuguiError as exc:
            table, self._prices_error = PriceTable().for_store(endpoint.endpoint_url), str(exc)
        self.model.set_prices(table)
        self._update_totals()

    def prices_changed(self) -> None:
        """The user saved new prices: the costs shown follow."""
        where = self.location()
        self._load_prices(where[0] if where else self.endpoint())

    # -- listing ------------------------------------------------------------------------

    def list_uploads(self) -> None:
        """List (again) from the first page; rows appear as pages arrive."""
        bucket = self.where.bucket_name()
        if not bucket:
            self._say("Choose a bucket to list its in-progress uploads.", error=True)
            return
        self.stop_listing(quiet=True)
        self.model.clear()
        self.parts.show_none()
        self.journal_link.reload()
        prefix = self.prefix.text()
        self.inventory.start(self.endpoint(), bucket, prefix)
        self._say(f"Listing the in-progress uploads of s3://{bucket}/{prefix} …")
        self._update_actions()

    def stop_listing(self, quiet: bool = False) -> None:
        was_listing = self.inventory.stop()
        if was_listing is None:
            return
        if not quiet:
            self._say(f"Stopped: {plural(self.model.rowCount(), 'upload')} listed so far.")
        self._update_actions()
        self._update_totals()
        if was_listing:
            self.listing_finished.emit()

    @property
    def listing(self) -> bool:
        return self.inventory.listing

    def _page_listed(self, page: list[Upload], region: str | None) -> None:
        if region is not None:
            self.model.set_prices(self.model.prices, region)
        self.model.add_page([self.journal_link.row(u) for u in page])
        self._update_totals()

    def _listing_done(self) -> None:
        where = self.location()
        self._say(f"{plural(self.model.rowCount(), 'in-progress upload')} in s3://"
                  f"{where[1] if where else ''}/{where[2] if where else ''}.")
        self._update_actions()
        self.listing_finished.emit()
        self._update_totals()

    def _list_failed(self, exc: BaseException) -> None:
        self._say(user_error(exc), error=True)
        self._update_actions()
        self.listing_finished.emit()

    # -- parts per row -------------------------------------------------------------------

    def _parts_arrived(self, u: Upload, parts: list[PartInfo]) -> None:
        self.model.set_usage(u.upload_id, usage(parts))
        if self.current_upload() == u:
            self._show_parts(u)
        self._update_totals()
        self.usage_loaded.emit(u.upload_id)

    def _parts_failed(self, u: Upload, exc: BaseException) -> None:
        if isinstance(exc, UploadGone):  # completed or aborted since it was listed
            self.model.remove({u.upload_id})
        else:
            self.model.set_usage(u.upload_id, None, user_error(exc))
            if self.current_upload() == u:
                self.parts.show_error(u, user_error(exc))
        self._update_totals()
        self.usage_loaded.emit(u.upload_id)

    def cached_parts(self, upload_id: str) -> list[PartInfo] | None:
        return self.inventory.cached_parts(upload_id)

    # -- selection and drill-down ------------------------------------------------------------

    def selected_uploads(self) -> list[Upload]:
        return self.table.selected_uploads()

    def current_upload(self) -> Upload | None:
        selected = self.selected_uploads()
        return selected[0] if len(selected) == 1 else None

    def select_upload(self, upload_id: str) -> None:
        self.table.select_upload(upload_id)

    def _selection_changed(self, *_: Any) -> None:
        self._update_actions()
        u = self.current_upload()
        if u is None:
            self.parts.show_none(len(self.selected_uploads()))
        elif self.inventory.cached_parts(u.upload_id) is not None:
            self._show_parts(u)
        else:
            self.parts.show_listing(u)
            self.inventory.want_parts(u)  # the one the user looks at goes first

    def _show_parts(self, u: Upload) -> None:
        self.parts.show_parts(u, self.inventory.cached_parts(u.upload_id) or [])
        self.parts_shown.emit(u.upload_id)

    def copy_ids(self) -> None:
        ids = [u.upload_id for u in self.selected_uploads()]
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))
            self._say(f"Copied {plural(len(ids), 'upload ID')}.")

    def copy_uris(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(u.uri for u in self.selected_uploads()))

    def _context_menu(self, at: QPoint) -> None:
        self.actions_bar.popup_menu(self, at, selected=len(self.selected_uploads()),
                                    aborting=self.inventory.aborting)

    # -- abort ---------------------------------------------------------------------------

    def describe_uploads(self, uploads: list[Upload]) -> str:
        return describe_uploads(uploads, self.inventory.cached_parts)

    @property
    def confirm_box(self) -> QMessageBox | None:
        """The abort question while it is open."""
        return self.abort_question.open_box

    def abort_selected(self) -> QMessageBox | None:
        """Ask (non-modal), then abort the selected uploads."""
        uploads = self.selected_uploads()
        if not uploads or self.inventory.aborting or self.confirm_box is not None:
            return None
        return self.abort_question.ask(uploads, self.describe_uploads(uploads))

    def run_aborts(self, uploads: list[Upload],
                   on_result: Callable[[AbortResult], None] | None = None,
                   on_done: Callable[[list[AbortResult]], None] | None = None) -> None:
        """Abort one upload after the other in the background (each: abort,
        then ListParts until empty), removing each row as it goes."""

        def one(result: AbortResult) -> None:
            if result.ok:
                self.model.remove({result.upload.upload_id})
                self._update_totals()
                self.journal_link.cancel_transfer_of(result.upload.upload_id)
            if on_result is not None:
                on_result(result)

        def done(results: list[AbortResult]) -> None:
            self._update_actions()
            self.last_results = results
            text, failed = abort_summary(results)
            self._say(text, error=failed)
            if on_done is not None:
                on_done(results)
            self.aborts_finished.emit(results)

        if self.inventory.run_aborts(uploads, one, done):
            self._update_actions()

    def mark_adopted(self, upload_id: str, transfer_id: int) -> None:
        self.model.set_journal(upload_id, transfer_id, QUEUED)
        self.adopted.emit(transfer_id)

    # -- dialogs --------------------------------------------------------------------------

    def _keep(self, dialog: QWidget) -> QWidget:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self.dialogs.remove(dialog)
                                 if dialog in self.dialogs else None)
        dialog.show()
        return dialog

    def open_cleanup(self) -> Any:
        from mpugui.ui.uploads.in_progress.dialogs.cleanup import CleanupDialog

        if self.location() is None:
            self._say("List a bucket's uploads first.", error=True)
            return None
        return self._keep(CleanupDialog(self))

    def open_adopt(self) -> Any:
        from mpugui.ui.uploads.in_progress.dialogs.adopt import AdoptDialog

        u, where = self.current_upload(), self.location()
        if u is None or where is None:
            self._say("Select one upload to resume it with a local file.", error=True)
            return None
        return self._keep(AdoptDialog(self, u, where[0]))

    def open_lifecycle(self) -> Any:
        from mpugui.ui.uploads.in_progress.dialogs.lifecycle import LifecycleDialog

        bucket = self.where.bucket_name()
        if not bucket:
            self._say("Choose a bucket first.", error=True)
            return None
        return self._keep(LifecycleDialog(self, self.endpoint(), bucket, self.prefix.text()))

    # -- footer and state -----------------------------------------------------------------

    def _update_totals(self) -> None:
        if not hasattr(self, "footer"):
            return  # prices loaded while the tab is being built
        self.footer.show_totals(self.model.totals(), counting=self.inventory.counting())
        region = self.model.region if self.location() else None
        self.footer.show_prices(self.model.prices, region, self._prices_error)

    def _update_actions(self) -> None:
        self.where.stop_button.setEnabled(self.inventory.listing)
        self.actions_bar.enable(selected=len(self.selected_uploads()),
                                aborting=self.inventory.aborting,
                                listed=self.location() is not None)

    def _say(self, text: str, error: bool = False) -> None:
        self.actions_bar.say(text, error)

    def _say_problem(self, text: str) -> None:
        self._say(text, error=True)

    def status_text(self) -> str:
        return self.actions_bar.status.text()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.model.refresh_ages()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop_listing(quiet=True)
        for d in list(self.dialogs):
            d.close()
        super().closeEvent(event)


__all__ = ["COLUMNS", "UploadsBrowser", "short_id"]
