"""The In-progress tab's table of uploads: sorted through a proxy (oldest
first), rows selected whole and several at a time, Ctrl+C copies the
selected uploads' IDs, and a right click asks for the context menu."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from mpugui.core.inventory.listing import Upload
from mpugui.ui.uploads.models import (
    AGE,
    BYTES,
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
    UploadsModel,
)


class UploadsTable(QTableView):
    copy_requested = Signal()  # Ctrl+C in the table
    menu_requested = Signal(QPoint)  # a right click, at this global position

    def __init__(self, model: UploadsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.uploads = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(INITIATED, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().hide()
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(
            lambda pos: self.menu_requested.emit(self.viewport().mapToGlobal(pos)))
        header = self.horizontalHeader()
        # The key is what tells uploads apart: a width of its own (a narrow
        # window scrolls sideways), the last column takes what is left.
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        widths = {KEY: max(240, self.fontMetrics().horizontalAdvance("x" * 34)),
                  UPLOAD_ID: 130, INITIATED: 130, AGE: 80, INITIATOR: 150, STORAGE: 100,
                  PARTS: 60, BYTES: 90, COST: 120, JOURNAL: 90}
        for col, width in widths.items():
            header.resizeSection(col, width)
        copy = QAction("Copy upload ID", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_requested)
        self.addAction(copy)

    def selected_uploads(self) -> list[Upload]:
        """In the order shown."""
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(UPLOAD_ROLE) for r in rows]

    def select_upload(self, upload_id: str) -> None:
        row = self.uploads.row_of(upload_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.uploads.index(row, 0))
        self.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.scrollTo(index)
