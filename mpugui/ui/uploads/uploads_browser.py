"""The in-progress uploads browser: a bucket's unfinished multipart uploads
(billed storage no object listing shows) with their parts, bytes and an
estimated monthly cost; abort, clean up by age, adopt with the local file,
and the lifecycle rule that aborts them server-side.

The S3 calls (a ListMultipartUploads page per task, rows appearing as pages
arrive; ListParts per row, a few at a time, cached; aborts one after the
other) are engine/inventory_controller.py's; this module shows what arrives.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.errors import UploadGone
from mpugui.core.inventory.listing import (
    PAGE_SIZE,
    PartInfo,
    Upload,
    journal_index,
    parse_time,
    usage,
    utc_now,
)
from mpugui.core.journal.store import Journal, TransferRecord
from mpugui.core.orphans.prices import PriceTable, load_table
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.states import FINAL_STATES, QUEUED
from mpugui.core.transfer.snapshot import REMOVED, EngineSnapshot
from mpugui.core.units import format_bytes, plural
from mpugui.engine.engine import TransferEngine
from mpugui.engine.inventory_controller import InventoryController
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common import icons
from mpugui.ui.common.account_combo import refill_accounts
from mpugui.ui.common.messages import user_error
from mpugui.ui.uploads.uploads_models import (
    AGE,
    BYTES,
    COLUMNS,
    COST,
    INITIATED,
    INITIATOR,
    JOURNAL,
    KEY,
    PARTS,
    SORT_ROLE,
    STORAGE,
    UPLOAD_ID,
    UPLOAD_ROLE,
    UploadPartsModel,
    UploadRow,
    UploadsModel,
    format_cost,
    short_id,
)

log = logging.getLogger("mpugui.ui.uploads")

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
        self._names_for: Endpoint | None = None
        self.dialogs: list[QWidget] = []
        self.confirm_box: QMessageBox | None = None  # open while asking
        self._abort_box: QMessageBox | None = None
        self._pending_abort: list[Upload] = []
        self.last_results: list[AbortResult] = []

        self.model = UploadsModel(self.now, parent=self)
        self._prices_error: str | None = None

        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.parts_model = UploadPartsModel(self)
        self._known: dict[str, TransferRecord] = {}
        self._journal_uploads: dict[int, str] = {}  # transfer id -> upload id, for the column
        engine.snapshot.connect(self._engine_events)
        self._build()
        self.reload_accounts()
        self._update_actions()
        self._update_totals()

    # -- layout -----------------------------------------------------------------------

    def _build(self) -> None:
        """The tab, top to bottom: where to look, what to do, the uploads over
        the selected one's parts, and the totals."""
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_where())
        layout.addLayout(self._build_actions())
        layout.addWidget(self._build_lists(), 1)
        layout.addWidget(line)
        layout.addLayout(self._build_footer())

    def _build_where(self) -> QHBoxLayout:
        """Account, bucket, prefix, and List / Stop."""
        self.account = QComboBox()
        self.account.setMinimumContentsLength(16)
        self.account.currentIndexChanged.connect(self._account_changed)
        self.bucket = _BucketCombo()
        self.bucket.opening.connect(self._fetch_bucket_names)
        self.bucket.setMinimumContentsLength(18)
        bucket_edit = self.bucket.lineEdit()
        assert bucket_edit is not None  # an editable combo has one
        bucket_edit.setPlaceholderText("bucket name")
        bucket_edit.returnPressed.connect(self.list_uploads)
        self.prefix = QLineEdit()
        self.prefix.setPlaceholderText("all keys (optional prefix)")
        self.prefix.returnPressed.connect(self.list_uploads)
        self.list_button = QPushButton(icons.icon("uploads"), "List uploads")
        self.list_button.setDefault(True)
        self.list_button.clicked.connect(self.list_uploads)
        self.stop_button = QPushButton(icons.icon("cancel"), "Stop")
        self.stop_button.clicked.connect(self.stop_listing)

        where = QHBoxLayout()
        for label, widget, stretch in (("Account", self.account, 2), ("Bucket", self.bucket, 2),
                                       ("Prefix", self.prefix, 2)):
            caption = QLabel(label)
            caption.setBuddy(widget)
            where.addWidget(caption)
            where.addWidget(widget, stretch)
        where.addWidget(self.list_button)
        where.addWidget(self.stop_button)
        return where

    def _build_actions(self) -> QHBoxLayout:
        """The actions on the listed uploads, and the status sentence."""
        self.abort_button = _tool("Abort selected…", "cancel",
                                  "Abort the selected uploads and delete their parts",
                                  self.abort_selected)
        self.cleanup_button = _tool("Clean up older than…", "remove-finished",
                                    "Preview, then abort every listed upload older than N days",
                                    self.open_cleanup)
        self.adopt_button = _tool("Resume with local file…", "resume",
                                  "Check the selected upload's parts against a local file, then "
                                  "upload only the missing parts and complete it",
                                  self.open_adopt)
        self.lifecycle_button = _tool("Lifecycle rule…", "settings",
                                      "Make the bucket abort incomplete uploads after N days",
                                      self.open_lifecycle)
        self.copy_button = _tool("Copy upload ID", "copy", "Copy the selected uploads' full IDs",
                                 self.copy_ids)
        actions = QHBoxLayout()
        for b in (self.abort_button, self.cleanup_button, self.adopt_button,
                  self.lifecycle_button, self.copy_button):
            actions.addWidget(b)
        actions.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions.addWidget(self.status, 3)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        return actions

    def _build_lists(self) -> QSplitter:
        """The uploads table over the selected upload's parts."""
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(INITIATED, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        header = self.table.horizontalHeader()
        # The key is what tells uploads apart: a width of its own (a narrow
        # window scrolls sideways), the last column takes what is left.
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        widths = {KEY: max(240, self.fontMetrics().horizontalAdvance("x" * 34)),
                  UPLOAD_ID: 130, INITIATED: 130, AGE: 80, INITIATOR: 150, STORAGE: 100,
                  PARTS: 60, BYTES: 90, COST: 120, JOURNAL: 90}
        for col, width in widths.items():
            header.resizeSection(col, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        copy = QAction("Copy upload ID", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_ids)
        self.table.addAction(copy)

        self.parts_title = QLabel("Select an upload to see its parts.")
        self.parts_table = QTableView()
        self.parts_table.setModel(self.parts_model)
        self.parts_table.verticalHeader().hide()
        self.parts_table.setAlternatingRowColors(True)
        self.parts_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        ph = self.parts_table.horizontalHeader()
        for col, width in enumerate((60, 100, 270, 130)):
            ph.resizeSection(col, width)
        ph.setStretchLastSection(True)
        parts_box = QWidget()
        pl = QVBoxLayout(parts_box)
        pl.setContentsMargins(0, 4, 0, 0)
        pl.addWidget(self.parts_title)
        pl.addWidget(self.parts_table)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(parts_box)
        # The uploads first: at 1024x600 equal shares left 4 rows of them.
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([3000, 1000])
        return self.splitter

    def _build_footer(self) -> QHBoxLayout:
        """Totals, the price note and the prices button."""
        self.totals = QLabel()
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.price_note = QLabel()
        self.price_note.setStyleSheet("color: gray;")
        self.price_note.setWordWrap(True)  # a narrow window wraps it instead of cutting it
        self.prices_button = QPushButton("Storage prices…")
        self.prices_button.setToolTip("Set your store's price per GB-month (Settings > "
                                      "Storage prices); the All buckets tab uses the same")
        self.prices_button.clicked.connect(self.prices_requested)
        footer = QHBoxLayout()
        footer.addWidget(self.totals, 1)
        footer.addWidget(self.price_note, 1)
        footer.addWidget(self.prices_button)
        return footer

    # -- where to look ------------------------------------------------------------------

    def reload_accounts(self) -> None:
        changed, error = refill_accounts(self.account, self.accounts)
        if error:
            self._say(error, error=True)
        if changed:
            self._account_changed()

    def endpoint(self) -> Endpoint:
        data = self.account.currentData()
        return data if isinstance(data, Endpoint) else Endpoint()

    def set_location(self, account: str, bucket: str, prefix: str = "") -> None:
        """Point the view at a bucket (the window uses it for the sandbox)."""
        i = self.account.findText(account)
        if i < 0:
            self.reload_accounts()
            i = self.account.findText(account)
        if i >= 0:
            self.account.setCurrentIndex(i)
        self.bucket.setEditText(bucket)
        self.prefix.setText(prefix)

    def _account_changed(self, *_: Any) -> None:
        self._names_for = None  # names are fetched when the list opens
        self._load_prices(self.endpoint())

    def _load_prices(self, endpoint: Endpoint) -> None:
        """The account scan's table, as it prices this account's store."""
        try:
            table, self._prices_error = load_table(endpoint_url=endpoint.endpoint_url), None
        except MpuguiError as exc:
            table, self._prices_error = PriceTable().for_store(endpoint.endpoint_url), str(exc)
        self.model.set_prices(table)
        if hasattr(self, "price_note"):
            self._update_totals()

    def prices_changed(self) -> None:
        """The user saved new prices: the costs shown follow."""
        self._load_prices(self._location[0] if self._location else self.endpoint())

    def _fetch_bucket_names(self) -> None:
        """Fill the bucket list on first use (not at start: no network call
        happens before the user asks for something)."""
        endpoint, clients = self.endpoint(), self.clients
        if self._names_for == endpoint:
            return
        self._names_for = endpoint
        self.runner.run(lambda: [b["Name"] for b in
                                 clients.client(endpoint).list_buckets().get("Buckets", [])],
                        lambda names: self._buckets_listed(endpoint, names),
                        lambda exc: log.info("Bucket names unavailable: %s", exc))

    def _buckets_listed(self, endpoint: Endpoint, names: list[str]) -> None:
        if endpoint != self.endpoint():
            return
        text = self.bucket.currentText()
        self.bucket.blockSignals(True)
        self.bucket.clear()
        self.bucket.addItems(names)
        self.bucket.setEditText(text or (names[0] if len(names) == 1 else ""))
        self.bucket.blockSignals(False)
        if names and self.bucket.isVisible():
            self.bucket.showPopup()  # the list the user opened was empty a moment ago

    # -- listing ------------------------------------------------------------------------

    @property
    def _location(self) -> tuple[Endpoint, str, str] | None:
        return self.inventory.location

    def list_uploads(self) -> None:
        """List (again) from the first page; rows appear as pages arrive."""
        bucket = self.bucket.currentText().strip()
        if not bucket:
            self._say("Choose a bucket to list its in-progress uploads.", error=True)
            return
        self.stop_listing(quiet=True)
        self.model.clear()
        self.parts_model.set_parts([])
        self.parts_title.setText("Select an upload to see its parts.")
        try:
            self._known = journal_index(self.journal)
        except Exception as exc:
            self._known = {}
            log.warning("The journal could not be read: %s", exc)
        self.inventory.start(self.endpoint(), bucket, self.prefix.text())
        self._say(f"Listing the in-progress uploads of s3://{bucket}/{self.prefix.text()} …")
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
        rows = []
        for u in page:
            rec = self._known.get(u.upload_id)
            rows.append(UploadRow(u, journal_id=rec.id if rec else None,
                                  journal_state=rec.state if rec else None))
        self.model.add_page(rows)
        self._update_totals()

    def _listing_done(self) -> None:
        where = self._location
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
                self.parts_title.setText(f"Parts of {u.key}: {user_error(exc)}")
        self._update_totals()
        self.usage_loaded.emit(u.upload_id)

    def cached_parts(self, upload_id: str) -> list[PartInfo] | None:
        return self.inventory.cached_parts(upload_id)

    # -- selection and drill-down ------------------------------------------------------------

    def selected_uploads(self) -> list[Upload]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(UPLOAD_ROLE) for r in rows]

    def current_upload(self) -> Upload | None:
        selected = self.selected_uploads()
        return selected[0] if len(selected) == 1 else None

    def select_upload(self, upload_id: str) -> None:
        row = self.model.row_of(upload_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def _selection_changed(self, *_: Any) -> None:
        self._update_actions()
        u = self.current_upload()
        if u is None:
            n = len(self.selected_uploads())
            self.parts_model.set_parts([])
            self.parts_title.setText(f"{n} uploads selected." if n else
                                     "Select an upload to see its parts.")
            return
        if self.inventory.cached_parts(u.upload_id) is not None:
            self._show_parts(u)
            return
        self.parts_model.set_parts([])
        self.parts_title.setText(f"Listing the parts of {u.key} …")
        self.inventory.want_parts(u)  # the one the user looks at goes first

    def _show_parts(self, u: Upload) -> None:
        parts = self.inventory.cached_parts(u.upload_id) or []
        self.parts_model.set_parts(parts)
        use = usage(parts)
        algo = f", {u.checksum_algorithm} checksums" if u.checksum_algorithm else ""
        self.parts_title.setText(
            f"<b>{_html(u.key)}</b> — upload {_html(u.upload_id)}: {plural(use.parts, 'part')}, "
            f"{format_bytes(use.bytes)}{algo}")
        self.parts_shown.emit(u.upload_id)

    def copy_ids(self) -> None:
        ids = [u.upload_id for u in self.selected_uploads()]
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))
            self._say(f"Copied {plural(len(ids), 'upload ID')}.")

    def _context_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        menu.addAction(icons.icon("copy"), "Copy upload ID", self.copy_ids)
        menu.addAction("Copy S3 URI", lambda: QGuiApplication.clipboard().setText(
            "\n".join(u.uri for u in self.selected_uploads())))
        menu.addSeparator()
        menu.addAction(icons.icon("resume"), "Resume with local file…", self.open_adopt) \
            .setEnabled(self.current_upload() is not None)
        menu.addAction(icons.icon("cancel"), "Abort…", self.abort_selected) \
            .setEnabled(bool(self.selected_uploads()) and not self.inventory.aborting)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- abort ---------------------------------------------------------------------------

    def describe_uploads(self, uploads: list[Upload]) -> str:
        """'2 uploads holding 5 parts (25.0 MiB)', counting what is known."""
        cached = (self.inventory.cached_parts(u.upload_id) for u in uploads)
        known = [p for p in cached if p is not None]
        parts = sum(len(p) for p in known)
        size = sum(usage(p).bytes for p in known)
        text = (f"{plural(len(uploads), 'upload')} holding {plural(parts, 'part')} "
                f"({format_bytes(size)})")
        if len(known) < len(uploads):
            text += f"; the parts of {len(uploads) - len(known)} are still being counted"
        return text

    def abort_selected(self) -> QMessageBox | None:
        """Ask (non-modal), then abort the selected uploads."""
        uploads = self.selected_uploads()
        if not uploads or self.inventory.aborting or self.confirm_box is not None:
            return None
        box = self._abort_box
        if box is None:
            # One box, reused: deleting a box whose finished signal has a
            # Python slot crashed PySide 6.12 (pure virtual call in ~QObject).
            box = QMessageBox(QMessageBox.Icon.Warning, "Abort uploads", "",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                              self)
            box.setInformativeText("Their parts are deleted from the bucket and the storage "
                                   "stops being billed. This cannot be undone.")
            box.button(QMessageBox.StandardButton.Yes).setText("Abort")
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.finished.connect(self._abort_answered)
            self._abort_box = box
        box.setText(f"Abort {self.describe_uploads(uploads)}?")
        self._pending_abort = uploads
        self.confirm_box = box
        box.open()
        return box

    def _abort_answered(self, _result: int) -> None:
        box, uploads = self._abort_box, self._pending_abort
        self.confirm_box, self._pending_abort = None, []
        if box is not None and box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
            self.run_aborts(uploads)

    def run_aborts(self, uploads: list[Upload],
                   on_result: Callable[[AbortResult], None] | None = None,
                   on_done: Callable[[list[AbortResult]], None] | None = None) -> None:
        """Abort one upload after the other in the background (each: abort,
        then ListParts until empty), removing each row as it goes."""

        def one(result: AbortResult) -> None:
            if result.ok:
                self.model.remove({result.upload.upload_id})
                self._update_totals()
                self._cancel_transfer_of(result.upload.upload_id)
            if on_result is not None:
                on_result(result)

        def done(results: list[AbortResult]) -> None:
            self._update_actions()
            self.last_results = results
            failed = [r for r in results if not r.ok]
            text = (f"Aborted {len(results) - len(failed):,} of "
                    f"{plural(len(results), 'upload')}.")
            if failed:
                text += " Not aborted: " + "; ".join(
                    f"{r.upload.key}: {r.error}" for r in failed)
                for r in failed:  # the log dock keeps each one
                    log.warning("Abort of %s (upload %s) failed: %s", r.upload.key,
                                short_id(r.upload.upload_id), r.error)
            self._say(text, error=bool(failed))
            if on_done is not None:
                on_done(results)
            self.aborts_finished.emit(results)

        if self.inventory.run_aborts(uploads, one, done):
            self._update_actions()

    # -- dialogs --------------------------------------------------------------------------

    def _keep(self, dialog: QWidget) -> QWidget:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self.dialogs.remove(dialog)
                                 if dialog in self.dialogs else None)
        dialog.show()
        return dialog

    def open_cleanup(self) -> Any:
        from mpugui.ui.uploads.dialogs.cleanup import CleanupDialog

        if self._location is None:
            self._say("List a bucket's uploads first.", error=True)
            return None
        return self._keep(CleanupDialog(self))

    def open_adopt(self) -> Any:
        from mpugui.ui.uploads.dialogs.adopt import AdoptDialog

        u = self.current_upload()
        if u is None or self._location is None:
            self._say("Select one upload to resume it with a local file.", error=True)
            return None
        return self._keep(AdoptDialog(self, u, self._location[0]))

    def open_lifecycle(self) -> Any:
        from mpugui.ui.uploads.dialogs.lifecycle import LifecycleDialog

        bucket = self.bucket.currentText().strip()
        if not bucket:
            self._say("Choose a bucket first.", error=True)
            return None
        return self._keep(LifecycleDialog(self, self.endpoint(), bucket, self.prefix.text()))

    def location(self) -> tuple[Endpoint, str, str] | None:
        return self._location

    def _cancel_transfer_of(self, upload_id: str) -> None:
        """The app's own transfer of an aborted upload cannot resume any more:
        let the engine mark it cancelled (its abort finds nothing left)."""
        ids = {tid for tid, uid in self._journal_uploads.items() if uid == upload_id}
        rec = self._known.get(upload_id)
        if rec is not None:
            ids.add(rec.id)
        snapshot = self.engine.current_snapshot()
        for tid in ids:
            t = snapshot.by_id(tid)
            if t is not None and t.state not in FINAL_STATES:
                self.engine.cancel([tid])

    def _engine_events(self, snap: EngineSnapshot) -> None:
        for ev in snap.events:  # a tick's state changes, not a signal each
            self._engine_state(ev.id, ev.state)

    def _engine_state(self, transfer_id: int, state: str) -> None:
        """Keep the "In journal" column in step with the engine."""
        if state == REMOVED:
            upload_id = self._journal_uploads.pop(transfer_id, None)
            if upload_id:
                self.model.set_journal(upload_id, None, None)
            return
        try:
            upload_id = self.engine.record(transfer_id).upload_id
        except KeyError:
            return
        if upload_id:
            self._journal_uploads[transfer_id] = upload_id
            self.model.set_journal(upload_id, transfer_id, state)

    def mark_adopted(self, upload_id: str, transfer_id: int) -> None:
        self.model.set_journal(upload_id, transfer_id, QUEUED)
        self.adopted.emit(transfer_id)

    # -- footer and state -----------------------------------------------------------------

    def _update_totals(self) -> None:
        t = self.model.totals()
        text = (f"<b>{t.uploads:,}</b> {'upload' if t.uploads == 1 else 'uploads'} · "
                f"<b>{t.parts:,}</b> {'part' if t.parts == 1 else 'parts'} · "
                f"<b>{format_bytes(t.bytes)}</b> held · estimated "
                f"<b>{format_cost(t.cost)}</b> a month")
        if t.pending and self.inventory.counting():
            text += f" <span style='color:gray'>(counting the parts of {t.pending} …)</span>"
        elif t.pending:
            text += (f" <span style='color:gray'>(the parts of {t.pending} were not counted; "
                     "List again to count them)</span>")
        self.totals.setText(text)
        table = self.model.prices
        note = "Estimated from " + table.describe(self.model.region if self._location else None)
        self.price_note.setText(note)
        self.price_note.setToolTip(self._prices_error or "An estimate, not a bill: no tiers, "
                                   "minimum durations or request charges")
        if self._prices_error:
            self.price_note.setText(f"{note} (prices.json could not be used)")

    def _update_actions(self) -> None:
        selected = self.selected_uploads() if hasattr(self, "table") else []
        self.stop_button.setEnabled(self.inventory.listing)
        self.abort_button.setEnabled(bool(selected) and not self.inventory.aborting)
        self.adopt_button.setEnabled(len(selected) == 1)
        self.copy_button.setEnabled(bool(selected))
        self.cleanup_button.setEnabled(self._location is not None
                                       and not self.inventory.aborting)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b3261e;" if error else "")

    def status_text(self) -> str:
        return self.status.text()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.model.refresh_ages()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop_listing(quiet=True)
        for d in list(self.dialogs):
            d.close()
        super().closeEvent(event)


def _tool(text: str, icon_name: str, tip: str, slot: Callable[[], Any]) -> QToolButton:
    """A flat tool button with its text beside the icon."""
    b = QToolButton()
    b.setText(text)
    b.setIcon(icons.icon(icon_name))
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    b.clicked.connect(slot)
    return b


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _BucketCombo(QComboBox):
    """An editable bucket field whose list is filled when first opened."""

    opening = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setEditable(True)

    def showPopup(self) -> None:
        self.opening.emit()
        if self.count():
            super().showPopup()


__all__ = ["COLUMNS", "UploadsBrowser", "short_id"]
