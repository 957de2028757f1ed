"""The queue: a table model over the engine's snapshots.

Snapshots are immutable and the engine reuses the same object for a transfer
that did not change, so a tick costs one identity comparison per row and one
`dataChanged` spanning the rows that moved. Rows keep the order in which the
engine first reported them; sorting is the proxy's job.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
)

from mpugui.core.transfer.snapshot import EngineSnapshot, TransferSnapshot
from mpugui.core.units import format_bytes, format_duration, format_rate
from mpugui.ui import icons
from mpugui.ui.progress_delegate import FRACTION_ROLE, STATE_ROLE, state_color, state_hex
from mpugui.ui.table_model import TableModel

NAME, DESTINATION, SIZE, PROGRESS, SPEED, ETA, STATE, PARTS = range(8)
COLUMNS = ("Name", "Destination", "Size", "Progress", "Speed", "ETA", "State", "Parts")
_HEADER_TIPS = (
    "The local file",
    "Where it goes: s3://bucket/key",
    "File size",
    "Bytes confirmed by the server",
    "Current upload speed",
    "Estimated time left at the current speed",
    "What the transfer is doing",
    "Parts uploaded / parts in total",
)

SORT_ROLE = Qt.ItemDataRole.UserRole + 10
TRANSFER_ROLE = Qt.ItemDataRole.UserRole + 11
ID_ROLE = Qt.ItemDataRole.UserRole + 12

STATE_LABELS = {
    "queued": "Queued", "uploading": "Uploading", "paused": "Paused",
    "assembling": "Completing", "verifying": "Verifying", "done": "Done",
    "failed": "Failed", "cancelled": "Cancelled",
}
_STATE_ORDER = {s: i for i, s in enumerate(
    ("uploading", "assembling", "verifying", "queued", "paused", "failed", "cancelled", "done"))}
_MERGE_GAP = 4  # changed rows this close share one dataChanged
FILTER_ROLE = Qt.ItemDataRole.UserRole + 13


def state_label(t: TransferSnapshot) -> str:
    if t.detail.startswith("cancelling"):
        return "Cancelling…"
    return STATE_LABELS.get(t.state, t.state.capitalize())


def shows_speed(t: TransferSnapshot) -> bool:
    return t.state == "uploading" and t.speed > 0


class QueueModel(TableModel):
    columns = COLUMNS
    header_tips = _HEADER_TIPS
    right_columns = frozenset({SIZE, SPEED, ETA, PARTS})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TransferSnapshot] = []
        self._row_of: dict[int, int] = {}
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder

    # -- feeding ----------------------------------------------------------------

    def update(self, snapshot: EngineSnapshot) -> None:
        """Apply one engine snapshot: removals, then changed rows (one
        dataChanged per block of them), then new rows; then, when sorted, the
        rows that moved out of order are put back (one layout change)."""
        new = snapshot.transfers
        if len(new) == len(self._rows) and all(
                a.id == b.id for a, b in zip(new, self._rows, strict=True)):
            changed = self._replace(list(enumerate(new)))
            if changed and self._sort_column >= 0 and not all(
                    self._in_place(r) for r in changed):
                self._resort()
            return
        if self._sort_column >= 0:
            # rows are in sorted order, not the engine's: match them by id
            by_id = {t.id: t for t in new}
            gone = [r for r, t in enumerate(self._rows) if t.id not in by_id]
        else:
            gone = [r for r, t in enumerate(self._rows) if t.id not in {x.id for x in new}]
        self._remove_rows(gone)
        pairs: list[tuple[int, TransferSnapshot]] = []
        added: list[TransferSnapshot] = []
        for t in new:
            row = self._row_of.get(t.id)
            if row is None:
                added.append(t)
            else:
                pairs.append((row, t))
        changed = self._replace(pairs)
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            for t in added:
                self._row_of[t.id] = len(self._rows)
                self._rows.append(t)
            self.endInsertRows()
        if self._sort_column >= 0 and (added or not all(self._in_place(r) for r in changed)):
            self._resort()

    def _replace(self, pairs: list[tuple[int, TransferSnapshot]]) -> list[int]:
        rows = self._rows
        changed = []
        for row, t in pairs:
            if rows[row] is not t:
                rows[row] = t
                changed.append(row)
        if not changed:
            return changed
        # a tick's active transfers are usually one block: one dataChanged
        changed.sort()
        self._announce_rows(changed, _MERGE_GAP)
        return changed

    # -- sorting ------------------------------------------------------------------
    # Sorting happens here, in Python, rather than in QSortFilterProxyModel:
    # the proxy calls data() twice per comparison from C++ (about a second for
    # 10,000 rows); a key sort over plain snapshots takes milliseconds.

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column = column if 0 <= column < len(COLUMNS) else -1
        self._sort_order = order
        if self._sort_column >= 0:
            self._resort()

    def sort_column(self) -> int:
        return self._sort_column

    def _key(self, t: TransferSnapshot) -> tuple:
        return (self._sort_key(t, self._sort_column), t.id)

    def _in_place(self, row: int) -> bool:
        rows, key = self._rows, self._key
        k = key(rows[row])
        desc = self._sort_order == Qt.SortOrder.DescendingOrder
        for other in (row - 1, row + 1):
            if 0 <= other < len(rows):
                ko = key(rows[other])
                before = ko < k if not desc else ko > k
                if (other < row) != before:
                    return False
        return True

    def _resort(self) -> None:
        old_rows = self._rows
        new_rows = sorted(old_rows, key=self._key,
                          reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        if all(a is b for a, b in zip(old_rows, new_rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        self._rows = new_rows
        self._row_of = {t.id: i for i, t in enumerate(new_rows)}
        old = self.persistentIndexList()
        moved = [self.index(self._row_of[old_rows[i.row()].id], i.column()) for i in old]
        self.changePersistentIndexList(old, moved)
        self.layoutChanged.emit()

    def _remove_rows(self, rows: list[int]) -> None:
        if not rows:
            return
        # contiguous runs, removed from the bottom up so indices stay valid
        runs: list[list[int]] = []
        for r in rows:
            if runs and r == runs[-1][1] + 1:
                runs[-1][1] = r
            else:
                runs.append([r, r])
        for first, last in reversed(runs):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first:last + 1]
            self.endRemoveRows()
        self._row_of = {t.id: i for i, t in enumerate(self._rows)}

    # -- lookups ----------------------------------------------------------------

    def transfer(self, transfer_id: int) -> TransferSnapshot | None:
        row = self._row_of.get(transfer_id)
        return self._rows[row] if row is not None else None

    def row_of(self, transfer_id: int) -> int | None:
        return self._row_of.get(transfer_id)

    def snapshots(self) -> list[TransferSnapshot]:
        return list(self._rows)

    # -- Qt model API -------------------------------------------------------------

    def _items(self) -> list[TransferSnapshot]:
        return self._rows

    def cell(self, t: TransferSnapshot, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(t, col)
        if role == SORT_ROLE:
            return self._sort_key(t, col)
        if role == FRACTION_ROLE:
            return t.fraction if col == PROGRESS else None
        if role == STATE_ROLE:
            return t.state
        if role == ID_ROLE:
            return t.id
        if role == FILTER_ROLE:
            return f"{t.name}\n{t.uri}"
        if role == TRANSFER_ROLE:
            return t
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self.alignment(col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(t, col)
        if role == Qt.ItemDataRole.DecorationRole and col == STATE:
            return icons.icon(t.state if t.state in STATE_LABELS else "queued",
                              state_hex(t.state))
        if role == Qt.ItemDataRole.ForegroundRole and col == STATE and t.state == "failed":
            return state_color("failed")
        return None

    @staticmethod
    def _display(t: TransferSnapshot, col: int) -> str:
        if col == NAME:
            return t.name
        if col == DESTINATION:
            return t.uri
        if col == SIZE:
            return format_bytes(t.size)
        if col == PROGRESS:
            return f"{t.fraction * 100:.0f}%"
        if col == SPEED:
            return format_rate(t.speed) if shows_speed(t) else ""
        if col == ETA:
            return format_duration(t.eta) if shows_speed(t) and t.eta is not None else ""
        if col == STATE:
            return state_label(t)
        return f"{t.parts_done} / {t.parts_total}"

    @staticmethod
    def _sort_key(t: TransferSnapshot, col: int) -> Any:
        if col == NAME:
            return t.name.lower()
        if col == DESTINATION:
            return t.uri
        if col == SIZE:
            return t.size
        if col == PROGRESS:
            return t.fraction
        if col == SPEED:
            return t.speed if shows_speed(t) else 0.0
        if col == ETA:
            return t.eta if shows_speed(t) and t.eta is not None else float("inf")
        if col == STATE:
            return _STATE_ORDER.get(t.state, 99)
        return t.parts_done / t.parts_total if t.parts_total else 0.0

    @staticmethod
    def _tooltip(t: TransferSnapshot, col: int) -> str:
        if col == NAME:
            return t.source
        if col == DESTINATION:
            return t.uri
        if col == STATE:
            lines = [state_label(t)]
            if t.detail and not t.detail.startswith("cancelling"):
                lines.append(t.detail)
            if t.verification:
                lines.append(f"Verified: {t.verification}")
            if t.retries:
                lines.append(f"{t.retries} part attempt(s) repeated")
            return "\n".join(lines)
        if col == SIZE:
            return f"{t.size:,} bytes"
        if col == PROGRESS:
            return f"{t.done_bytes:,} of {t.size:,} bytes"
        if col == PARTS:
            return f"{t.parts_done} of {t.parts_total} parts of {t.part_sizes}"
        return ""


class QueueProxy(QSortFilterProxyModel):
    """The text filter over name and destination (Qt's own, so an empty
    filter costs nothing per row). Sorting is passed on to QueueModel, which
    sorts in Python far faster than the proxy's per-comparison data() calls."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(NAME)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def set_filter_text(self, text: str) -> None:
        self.setFilterFixedString(text.strip())
