"""The uploads tables' models: a bucket's in-progress uploads (the In-progress
tab's rows arrive page by page, parts and bytes filling in per row as
ListParts answers; the All buckets tab shows the selected bucket's with the
same model) and the parts of the selected upload."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QGuiApplication, QPalette

from mpugui.core.inventory.listing import PartInfo, Upload, Usage, format_age, format_cost
from mpugui.core.orphans.prices import DEFAULT_REGION, PriceTable
from mpugui.core.units import format_bytes, plural
from mpugui.ui.common.table_model import TableModel

KEY, UPLOAD_ID, INITIATED, AGE, INITIATOR, STORAGE, PARTS, BYTES, COST, JOURNAL = range(10)
COLUMNS = ("Key", "Upload ID", "Initiated", "Age", "Initiator / owner", "Storage class",
           "Parts", "Bytes held", "Est. cost / month", "In journal")
_TIPS = ("The object key the upload will create",
         "The upload's ID (shortened; hover for the full ID, Ctrl+C copies it)",
         "When the upload was started, in local time", "How long ago it was started",
         "Who started the upload, and who owns it",
         "The storage class the object will have",
         "Parts already on the server (ListParts)", "Bytes the parts hold: billed storage",
         "An estimate: bytes held × the price per GB-month of the upload's storage class "
         "in the bucket's region (AWS's table, or your prices in Settings ▸ Storage prices)",
         "Whether this app's journal knows the upload (its transfer number)")
SORT_ROLE = Qt.ItemDataRole.UserRole + 20
UPLOAD_ROLE = Qt.ItemDataRole.UserRole + 21
__all__ = ["format_age", "format_cost"]  # re-exported for the views


def short_id(upload_id: str) -> str:
    return upload_id if len(upload_id) <= 14 else f"{upload_id[:6]}…{upload_id[-6:]}"


def local_time(when: datetime | None) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when else "—"


@dataclass
class UploadRow:
    upload: Upload
    usage: Usage | None = None  # None while ListParts is pending or failed
    error: str | None = None  # why the parts could not be listed
    journal_id: int | None = None
    journal_state: str | None = None


@dataclass(frozen=True)
class Totals:
    uploads: int
    parts: int
    bytes: int
    cost: float
    pending: int  # rows whose parts are not known yet


class UploadsModel(TableModel):
    columns = COLUMNS
    header_tips = _TIPS
    right_columns = frozenset({AGE, PARTS, BYTES, COST})

    def __init__(self, now: Callable[[], datetime], prices: PriceTable | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[UploadRow] = []
        self._index: dict[str, int] = {}
        self._now = now
        # Each upload is priced by its storage class in the bucket's region,
        # from the same table as the account scan (core/orphans/prices.py).
        self.prices = prices or PriceTable()
        self.region = DEFAULT_REGION

    # -- changes ----------------------------------------------------------------------

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._index = [], {}
        self.endResetModel()

    def add_page(self, rows: list[UploadRow]) -> None:
        rows = [r for r in rows if r.upload.upload_id not in self._index]
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for r in rows:
            self._index[r.upload.upload_id] = len(self._rows)
            self._rows.append(r)
        self.endInsertRows()

    def set_usage(self, upload_id: str, use: Usage | None, error: str | None = None) -> None:
        row = self._index.get(upload_id)
        if row is None:
            return
        self._rows[row].usage, self._rows[row].error = use, error
        self.dataChanged.emit(self.index(row, PARTS), self.index(row, COST))

    def set_journal(self, upload_id: str, transfer_id: int | None, state: str | None) -> None:
        row = self._index.get(upload_id)
        if row is None:
            return
        self._rows[row].journal_id, self._rows[row].journal_state = transfer_id, state
        self.dataChanged.emit(self.index(row, JOURNAL), self.index(row, JOURNAL))

    def remove(self, upload_ids: set[str]) -> None:
        for row in sorted((self._index[u] for u in upload_ids if u in self._index),
                          reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        self._index = {r.upload.upload_id: i for i, r in enumerate(self._rows)}

    def set_prices(self, prices: PriceTable, region: str | None = None) -> None:
        """Price with `prices` in `region` (the bucket's; None keeps it)."""
        self.prices = prices
        if region is not None:
            self.region = region or DEFAULT_REGION
        self._announce_column(COST)

    def price_of(self, upload: Upload) -> float:
        """USD per GB-month for this upload's bytes."""
        return self.prices.price(upload.storage_class, self.region)

    def cost_of(self, r: UploadRow) -> float | None:
        if r.usage is None:
            return None
        return self.prices.monthly_cost(r.usage.bytes, r.upload.storage_class, self.region)

    def refresh_ages(self) -> None:
        self._announce_column(AGE)

    # -- reading ----------------------------------------------------------------------

    def rows(self) -> list[UploadRow]:
        return list(self._rows)

    def row(self, row: int) -> UploadRow:
        return self._rows[row]

    def row_of(self, upload_id: str) -> int | None:
        return self._index.get(upload_id)

    def totals(self) -> Totals:
        sized = [r for r in self._rows if r.usage is not None]
        known = [r.usage for r in sized if r.usage is not None]
        size = sum(u.bytes for u in known)
        cost = sum(self.cost_of(r) or 0.0 for r in sized)
        return Totals(len(self._rows), sum(u.parts for u in known), size, cost,
                      sum(1 for r in self._rows if r.usage is None and r.error is None))

    def now(self) -> datetime:
        return self._now()

    # -- Qt model ---------------------------------------------------------------------

    def _items(self) -> list[UploadRow]:
        return self._rows

    def cell(self, r: UploadRow, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, col)
        if role == SORT_ROLE:
            return self._sort_key(r, col)
        if role == UPLOAD_ROLE:
            return r.upload
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(r, col)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self.alignment(col)
        if role == Qt.ItemDataRole.ForegroundRole and col in (PARTS, BYTES, COST) \
                and r.usage is None:
            return QGuiApplication.palette().brush(QPalette.ColorGroup.Disabled,
                                                   QPalette.ColorRole.Text)
        return None

    def _display(self, r: UploadRow, col: int) -> str:
        u = r.upload
        if col == KEY:
            return u.key
        if col == UPLOAD_ID:
            return short_id(u.upload_id)
        if col == INITIATED:
            return local_time(u.initiated)
        if col == AGE:
            return format_age(u.age(self._now()))
        if col == INITIATOR:
            if u.owner and u.initiator and u.owner != u.initiator:
                return f"{u.initiator} / {u.owner}"
            return u.initiator or u.owner or "—"
        if col == STORAGE:
            return u.storage_class or "STANDARD"
        if col in (PARTS, BYTES, COST):
            if r.usage is None:
                return "error" if r.error else "…"
            if col == PARTS:
                return f"{r.usage.parts:,}"
            if col == BYTES:
                return format_bytes(r.usage.bytes)
            return format_cost(self.cost_of(r) or 0.0)
        if col == JOURNAL:
            if r.journal_id is None:
                return "—"
            return f"#{r.journal_id} ({r.journal_state})" if r.journal_state \
                else f"#{r.journal_id}"
        return ""

    def _sort_key(self, r: UploadRow, col: int) -> Any:
        u = r.upload
        if col in (INITIATED, AGE):
            return u.initiated.timestamp() if col == INITIATED else -u.initiated.timestamp()
        if col == PARTS:
            return r.usage.parts if r.usage else -1
        if col in (BYTES, COST):
            return r.usage.bytes if r.usage else -1
        if col == JOURNAL:
            return r.journal_id if r.journal_id is not None else -1
        return self._display(r, col).lower()

    def _tooltip(self, r: UploadRow, col: int) -> str:
        u = r.upload
        if col == UPLOAD_ID:
            return f"Upload ID {u.upload_id}\n(Ctrl+C copies it)"
        if col in (PARTS, BYTES, COST):
            if r.error:
                return r.error
            if r.usage is None:
                return "Listing the parts…"
            if col == COST:
                price = self.price_of(u)
                return (f"About {format_cost(self.cost_of(r) or 0.0)} a month at "
                        f"${price:g}/GB-month ({self.prices.source(u.storage_class, self.region)}"
                        f", {u.storage_class or 'STANDARD'} in {self.region}) — an estimate, "
                        "not a bill")
            return f"{plural(r.usage.parts, 'part')}, {r.usage.bytes:,} bytes"
        if col == INITIATED:
            return f"{local_time(u.initiated)} local time ({u.initiated.isoformat()})"
        if col == INITIATOR:
            return f"Initiator: {u.initiator or '—'}\nOwner: {u.owner or '—'}"
        if col == JOURNAL:
            return ("Not started by this app (or removed from its list)" if r.journal_id is None
                    else f"Transfer {r.journal_id} in this app's journal")
        return f"{u.uri}\nUpload ID {u.upload_id}"


P_NUMBER, P_SIZE, P_ETAG, P_MODIFIED, P_CHECKSUM = range(5)
PART_COLUMNS = ("Part", "Size", "ETag", "Last modified", "Checksum")


class UploadPartsModel(TableModel):
    """The parts of one in-progress upload, as ListParts reports them."""

    columns = PART_COLUMNS
    right_columns = frozenset({P_NUMBER, P_SIZE})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._parts: list[PartInfo] = []

    def set_parts(self, parts: list[PartInfo]) -> None:
        self.beginResetModel()
        self._parts = list(parts)
        self.endResetModel()

    def parts(self) -> list[PartInfo]:
        return list(self._parts)

    def _items(self) -> list[PartInfo]:
        return self._parts

    def cell(self, p: PartInfo, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if col == P_NUMBER:
                return str(p.number)
            if col == P_SIZE:
                return format_bytes(p.size)
            if col == P_ETAG:
                return p.etag.strip('"')
            if col == P_MODIFIED:
                return local_time(p.last_modified)
            return f"{p.checksum_algorithm} {p.checksum}" if p.checksum else "—"
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == P_SIZE:
                return f"{p.size:,} bytes"
            if col == P_CHECKSUM and not p.checksum:
                return "The server lists no checksum for this part"
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self.alignment(col)
        if role == SORT_ROLE:
            return p.number if col == P_NUMBER else p.size if col == P_SIZE else \
                str(self.cell(p, col, Qt.ItemDataRole.DisplayRole))
        return None
