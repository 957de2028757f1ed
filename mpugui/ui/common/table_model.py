"""What the app's flat table models share: a fixed set of titled columns
(header tooltips, numbers right-aligned), rows without children, and
dataChanged announced per block of changed rows rather than per row.

Each call from Qt's C++ into a Python method takes the GIL, and some PySide
calls (QModelIndex.parent(), QColor(str)) release and re-take it; while upload
workers hold the GIL each such trip can wait. So data() finds the row once and
answers from Python objects only, and flags() is left to C++. (Overriding
multiData to answer a cell's ~7 roles in one call was tried and dropped: the
span's items are PySide wrappers over Qt's stack, and a test run crashed.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

_ROOT = QModelIndex()  # the invisible root; a shared default is safe (never mutated)


class TableModel(QAbstractTableModel):
    """Subclasses set the class attributes and return their rows from _items()."""

    columns: tuple[str, ...] = ()
    header_tips: tuple[str, ...] = ()  # empty: the headers have no tooltip
    right_columns: frozenset[int] = frozenset()  # numbers, right-aligned
    align_headers = True  # False keeps Qt's centred header text

    def _items(self) -> Sequence[Any]:
        raise NotImplementedError

    def cell(self, item: Any, col: int, role: int) -> Any:
        """What `role` of column `col` shows for the row object `item`."""
        raise NotImplementedError

    def _item_at(self, index: QModelIndex | QPersistentModelIndex) -> Any:
        """The row object behind a valid cell of this table, else None. (No
        index.parent() check: a flat model's cells never have a parent, and
        that call releases and re-takes the GIL.)"""
        if not index.isValid():
            return None
        items, row = self._items(), index.row()
        if not (0 <= row < len(items) and 0 <= index.column() < len(self.columns)):
            return None
        return items[row]

    def alignment(self, col: int) -> int:
        return RIGHT if col in self.right_columns else LEFT

    def _announce_rows(self, rows: list[int], merge_gap: int | None = None) -> None:
        """One dataChanged per block of the changed `rows` (ascending): rows at
        most `merge_gap` apart share one; None makes a single span. A span over
        far-apart rows would make views and proxies look at every row between."""
        if not rows:
            return
        # createIndex, not index(): index() checks the bounds by calling the
        # Python rowCount() and columnCount(), twice per signal
        last_col, emit, cell = len(self.columns) - 1, self.dataChanged.emit, self.createIndex
        start = prev = rows[0]
        for row in rows[1:]:
            if merge_gap is not None and row - prev > merge_gap:
                emit(cell(start, 0), cell(prev, last_col))
                start = row
            prev = row
        emit(cell(start, 0), cell(prev, last_col))

    def _announce_column(self, col: int) -> None:
        """Every row's cell in `col` changed (a setting or the clock moved)."""
        count = len(self._items())
        if count:
            self.dataChanged.emit(self.index(0, col), self.index(count - 1, col))

    # -- Qt model API -------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._items())

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        if role == Qt.ItemDataRole.ToolTipRole and self.header_tips:
            return self.header_tips[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and self.align_headers:
            return self.alignment(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self._item_at(index)
        return None if item is None else self.cell(item, index.column(), role)
