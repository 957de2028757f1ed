"""The destination dialog's key preview: the object key each dropped file
will get (walked off the GUI thread), the entries that cannot be uploaded,
and the table that shows them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from mpugui.core.errors import describe
from mpugui.core.sources import Walk, collect, join_key, key_problem
from mpugui.core.units import format_bytes
from mpugui.ui.accounts.check_list import BAD_COLOR
from mpugui.ui.common.icons import icon

_ROOT = QModelIndex()  # the invalid index: "no parent"


@dataclass(frozen=True)
class Row:
    path: str
    base_key: str  # the key without the prefix
    size: int


class KeyPreviewModel(QAbstractTableModel):
    """The object keys the upload will create (and entries it must skip)."""

    KEY, SIZE, SOURCE = range(3)
    _HEADERS = ("Key", "Size", "Local file")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._problems: list[str] = []
        self._prefix = ""

    # -- data in
    def set_walk(self, rows: list[Row], problems: list[str]) -> None:
        self.beginResetModel()
        self._rows, self._problems = rows, list(problems)
        self.endResetModel()

    def set_prefix(self, prefix: str) -> None:
        if prefix == self._prefix:
            return
        self._prefix = prefix
        if self._rows:
            first = self.index(len(self._problems), self.KEY)
            last = self.index(self.rowCount() - 1, self.KEY)
            self.dataChanged.emit(first, last)

    # -- what the dialog reads
    def key(self, row: Row) -> str:
        return join_key(self._prefix, row.base_key) if self._prefix else row.base_key

    def keys(self) -> list[str]:
        return [self.key(r) for r in self._rows]

    def problems(self) -> list[str]:
        """Entries that cannot be uploaded, including keys made too long
        by the prefix."""
        found = list(self._problems)
        for r in self._rows:
            problem = key_problem(self.key(r))
            if problem:
                found.append(problem)
        return found

    def file_count(self) -> int:
        return sum(1 for r in self._rows if key_problem(self.key(r)) is None)

    def total_size(self) -> int:
        return sum(r.size for r in self._rows)

    # -- the Qt model
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._problems) + len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < 3:
            if role == Qt.ItemDataRole.DisplayRole:
                return self._HEADERS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section == self.SIZE:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self.rowCount():
            return None
        row, col = index.row(), index.column()
        if row < len(self._problems):
            return self._problem_data(self._problems[row], col, role)
        r = self._rows[row - len(self._problems)]
        key = self.key(r)
        problem = key_problem(key)
        if problem:
            return self._problem_data(problem, col, role, key)
        if role == Qt.ItemDataRole.DisplayRole:
            return (key, format_bytes(r.size), r.path)[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{key}\n{r.size:,} bytes" if col != self.SOURCE else r.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return (key, r.size, r.path)[col]
        return None

    def _problem_data(self, sentence: str, col: int, role: int, key: str = "") -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return sentence if col == self.KEY else ("skipped" if col == self.SIZE else key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return sentence
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(BAD_COLOR)
        if role == Qt.ItemDataRole.DecorationRole and col == self.KEY:
            return icon("failed", BAD_COLOR)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def walk_sources(paths: list[str]) -> tuple[list[Row], list[str]]:
    """Runs on the task pool: the files under `paths` with their keys
    relative to the prefix, as collect() names them for a drop."""
    walk: Walk = collect(paths, "", keep_folder_name=True)
    rows: list[Row] = []
    problems = list(walk.problems)
    for f in walk.files:
        try:
            rows.append(Row(f.path, f.key, os.stat(f.path).st_size))
        except OSError as exc:
            problems.append(describe(exc))
    return rows, problems


def preview_table(model: KeyPreviewModel) -> QTableView:
    """The keys, a row each: the key takes the width, the size fits, the
    local file keeps a width of its own."""
    view = QTableView()
    view.setModel(model)
    view.setAccessibleName("Key names")
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(KeyPreviewModel.KEY, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(KeyPreviewModel.SIZE, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(KeyPreviewModel.SOURCE, QHeaderView.ResizeMode.Interactive)
    header.resizeSection(KeyPreviewModel.SOURCE, 220)
    return view
