"""A table view that repaints for what it shows, not for what changed.

Qt's QTableView repaints its whole viewport for any dataChanged range of
more than one cell, visible or not, and for any row inserted or removed
anywhere (doItemsLayout ends in a full update). With 100,000 transfers,
most of a tick's changes and all of a big folder's new rows are below what
the window shows, and a full repaint costs 20-30 ms of the GUI thread on a
2-core machine: ten times a second, that was the window's stall.

This view clips dataChanged to the rows on screen, and when the only news
since the last layout is rows inserted or removed below the last visible
row, it updates the scroll bars without repainting. Anything else (a
reset, a new sort or filter, rows above the fold, a style or font
change) takes Qt's full path; a resize repaints all it exposes anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QPersistentModelIndex, QRect
from PySide6.QtWidgets import QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex
# changes that lay the rows out anew (not focus or activation: those come often)
_RELAYOUT = frozenset({QEvent.Type.StyleChange, QEvent.Type.FontChange,
                       QEvent.Type.PaletteChange, QEvent.Type.LayoutDirectionChange,
                       QEvent.Type.LocaleChange})


class VisibleRowsView(QTableView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # None: no news; True: only rows below the fold came or went; False: a full layout
        self._below_only: bool | None = None
        self._watched: QAbstractItemModel | None = None

    def setModel(self, model: QAbstractItemModel | None) -> None:
        if self._watched is not None:
            for signal, slot in self._signals(self._watched):
                signal.disconnect(slot)
        super().setModel(model)
        self._watched = model
        self._below_only = False
        if model is not None:
            for signal, slot in self._signals(model):
                signal.connect(slot)

    def _signals(self, model: QAbstractItemModel) -> list:
        return [(model.rowsInserted, self._rows_at), (model.rowsAboutToBeRemoved, self._rows_at),
                (model.modelReset, self._full), (model.layoutChanged, self._full),
                (model.rowsMoved, self._full), (model.columnsInserted, self._full),
                (model.columnsRemoved, self._full)]

    def _last_visible_row(self) -> int:
        """The last row on screen, or -1 when the rows end above the bottom."""
        return self.rowAt(self.viewport().height() - 1)

    def _below(self, first: int) -> None:
        last = self._last_visible_row()
        below = last >= 0 and first > last
        self._below_only = below and self._below_only is not False

    def _rows_at(self, parent: QModelIndex, first: int, _last: int) -> None:
        """Rows inserted, or about to be removed, from `first` on."""
        if not parent.isValid():
            self._below(first)

    def _full(self, *_args: object) -> None:
        self._below_only = False

    def doItemsLayout(self) -> None:
        below_only, self._below_only = self._below_only, None
        if below_only:
            self.updateGeometries()  # the scroll bar's range; the rows shown are as they were
            # (what QTableView's own layout does after rows were removed)
            self.verticalHeader().setUpdatesEnabled(True)
            return
        super().doItemsLayout()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in _RELAYOUT:
            self._below_only = False
        super().changeEvent(event)

    def dataChanged(self, top_left: Index, bottom_right: Index,
                    roles: Sequence[int] = ()) -> None:
        if top_left.parent().isValid():
            super().dataChanged(top_left, bottom_right, roles)
            return
        first = max(top_left.row(), self.rowAt(0))
        last = self._last_visible_row()
        last = bottom_right.row() if last < 0 else min(bottom_right.row(), last)
        if first < 0 or last < first:
            return  # nothing of it on screen
        top = self.rowViewportPosition(first)
        bottom = self.rowViewportPosition(last) + self.rowHeight(last)
        self.viewport().update(QRect(0, top, self.viewport().width(), bottom - top))
