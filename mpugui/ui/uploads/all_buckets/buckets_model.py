"""The account view's bucket table: one row per scanned bucket with its
unfinished uploads, bytes (drawn as a bar coloured by age), estimated cost
and lifecycle protection. Rows arrive in batches (one insert per tick, not
per bucket), so a 500-bucket scan costs what changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt

from mpugui.core.inventory.listing import format_age, format_cost
from mpugui.core.orphans.protection import PARTIAL, PROTECTED, UNKNOWN, Protection
from mpugui.core.orphans.results import BucketReport
from mpugui.core.units import format_bytes
from mpugui.ui.common.table_model import TableModel

BUCKET, REGION, UPLOADS, BYTES, COST, OLDEST, PROTECTION = range(7)
COLUMNS = ("Bucket", "Region", "Uploads", "Bytes held", "Cost / month", "Oldest",
           "Aborts incomplete uploads")
_TIPS = ("The bucket", "The bucket's region (each is asked there)",
         "In-progress multipart uploads: billed storage no object listing shows",
         "Bytes their parts hold; the bar's colour is the oldest upload's age",
         "An estimate: each upload's bytes × the price of its storage class in the bucket's "
         "region (AWS's table, or your prices in Settings ▸ Storage prices)",
         "How long ago the oldest upload was started",
         "Whether a lifecycle rule aborts incomplete uploads, and after how many days")
SORT_ROLE = Qt.ItemDataRole.UserRole + 30
REPORT_ROLE = Qt.ItemDataRole.UserRole + 31
AGE_ROLE = Qt.ItemDataRole.UserRole + 32  # seconds since the oldest upload, or None
SHARE_ROLE = Qt.ItemDataRole.UserRole + 33  # bytes / the largest bucket's bytes, 0..1


def protection_text(p: Protection | None) -> str:
    if p is None:
        return "—"
    if p.status == PROTECTED:
        return f"Yes, after {p.days} days"
    if p.status == PARTIAL:
        return "Only " + ", ".join(f"'{pre}' ({d} d)" for pre, d in p.rules)
    if p.status == UNKNOWN:
        return "Unknown"
    return "No"


class BucketsModel(TableModel):
    columns = COLUMNS
    header_tips = _TIPS
    right_columns = frozenset({UPLOADS, BYTES, COST, OLDEST})

    def __init__(self, now: Callable[[], datetime], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[BucketReport] = []
        self._index: dict[str, int] = {}
        self._now = now
        self._max_bytes = 0

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._index, self._max_bytes = [], {}, 0
        self.endResetModel()

    def add_reports(self, reports: Iterable[BucketReport]) -> None:
        """Append new buckets in one insert; a bucket already listed is
        replaced in place (a rescan of it)."""
        fresh, changed = [], []
        for r in reports:
            at = self._index.get(r.name)
            if at is None:
                fresh.append(r)
            else:
                self._rows[at] = r
                changed.append(at)
        grew = False
        for r in [*fresh, *(self._rows[i] for i in changed)]:
            if r.bytes > self._max_bytes:
                self._max_bytes, grew = r.bytes, True
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            for r in fresh:
                self._index[r.name] = len(self._rows)
                self._rows.append(r)
            self.endInsertRows()
        if grew:  # every bar is drawn against the largest bucket
            self._announce_column(BYTES)
        self._announce_rows(sorted(changed), merge_gap=0)

    def set_protection(self, bucket: str, protection: Protection) -> None:
        at = self._index.get(bucket)
        if at is None:
            return
        self._rows[at].protection = protection
        self.dataChanged.emit(self.index(at, PROTECTION), self.index(at, PROTECTION))

    def reports(self) -> list[BucketReport]:
        return list(self._rows)

    def report(self, row: int) -> BucketReport:
        return self._rows[row]

    def row_of(self, bucket: str) -> int | None:
        return self._index.get(bucket)

    # -- Qt model -----------------------------------------------------------------------

    def _items(self) -> list[BucketReport]:
        return self._rows

    def _age(self, r: BucketReport) -> float | None:
        return (self._now() - r.oldest).total_seconds() if r.oldest else None

    def cell(self, r: BucketReport, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, col)
        if role == SORT_ROLE:
            return self._sort_key(r, col)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self.alignment(col)
        if role == REPORT_ROLE:
            return r
        if role == AGE_ROLE:
            return self._age(r)
        if role == SHARE_ROLE:
            return r.bytes / self._max_bytes if self._max_bytes else 0.0
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == PROTECTION and r.protection is not None:
                return r.protection.sentence()
            if r.error:
                return r.error
            if col == BUCKET and r.directory:
                return f"{r.name}\nA directory bucket (S3 Express One Zone) in {r.region}"
        return None

    def _display(self, r: BucketReport, col: int) -> str:
        if col == BUCKET:
            return r.name
        if col == REGION:
            return f"{r.region} (Express)" if r.directory else (r.region or "—")
        if col == UPLOADS:
            return "error" if r.error and not r.uploads else f"{r.uploads:,}"
        if col == BYTES:
            return format_bytes(r.bytes)
        if col == COST:
            return format_cost(r.monthly_cost)
        if col == OLDEST:
            age = self._age(r)
            return "—" if age is None else format_age(age)
        if col == PROTECTION:
            return protection_text(r.protection)
        return ""

    def _sort_key(self, r: BucketReport, col: int) -> Any:
        if col == UPLOADS:
            return r.uploads
        if col == BYTES:
            return r.bytes
        if col == COST:
            return r.monthly_cost
        if col == OLDEST:
            return self._age(r) or 0.0
        if col == PROTECTION:
            return protection_text(r.protection)
        return self._display(r, col).lower()
