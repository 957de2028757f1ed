"""The part view of the selected transfer: a title line, the colour legend,
and the painted grid beside the parts table (in a splitter). Clicking a cell
selects its row and the other way round."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.states import PartState
from mpugui.core.transfer.snapshot import TransferSnapshot
from mpugui.ui.parts.part_grid import PartGrid, PartLegend
from mpugui.ui.parts.parts_model import COLUMNS, STATE, PartsModel
from mpugui.ui.queue.queue_columns import state_label


class PartPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.legend = PartLegend()
        self.grid = PartGrid()
        self.model = PartsModel(self)
        self.table = QTableView()
        self.table.setObjectName("partsTable")
        # In part-number order, unsorted: a sorting proxy over 10,000 parts
        # would stall the GUI for a second on every change of transfer.
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fm = self.fontMetrics()
        for col, sample in enumerate(("10000", "2,147,483,648–2,152,726,527", "5.0 MiB",
                                      "Uploading", "5.0 MiB", "10.0 MiB/s", "Attempts")):
            icon = fm.height() + 8 if col == STATE else 0
            header.resizeSection(col, max(fm.horizontalAdvance(sample), fm.horizontalAdvance(
                COLUMNS[col])) + 24 + icon)
        self.table.setMinimumWidth(240)
        self.table.setAccessibleName("Parts table")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("partSplitter")
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 0)
        top.setSpacing(12)
        top.addWidget(self.title)
        top.addWidget(self.summary, 1)
        top.addWidget(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

        self.grid.part_activated.connect(self._select_row)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._scroll_row = 0
        self._summary = self._tip = ""
        self.set_transfer(None)

    def set_transfer(self, t: TransferSnapshot | None) -> None:
        switched = (t.id if t is not None else None) != self.model.transfer_id
        self.grid.set_transfer(t)
        self.model.set_transfer(t)
        if switched and t is not None:
            # open where the work is: the first part not yet done
            first = next((p.number for p in t.parts if p.state != PartState.DONE), None)
            if first is not None:
                self._scroll_row = max(0, first - 3)
                # after the reset's layout pass, or the view ignores it
                QTimer.singleShot(0, self._scroll_to_work)
        self.legend.set_parts(t.parts if t is not None else ())
        if self.legend.isHidden() != (t is None):
            self.legend.setHidden(t is None)
        if t is None:
            self.title.setText("Parts")
            self.summary.setText("Select a transfer in the queue to see its parts live.")
            self._summary = self._tip = ""
            return
        if self.title.text() != t.name:
            self.title.setText(t.name)
        bits = [f"{t.parts_done:,} of {t.parts_total:,} parts done",
                f"{t.part_sizes} each" if t.parts_total > 1 else "single request",
                t.checksum.upper(), state_label(t)]
        if t.retries:
            bits.append(f"{t.retries} retried")
        text = "  ·  ".join(bits)
        if text != self._summary:
            self._summary = text
            self.summary.setText(text)
        tip = [t.source, t.uri]
        if t.upload_id:
            tip.append(f"Upload ID {t.upload_id}")
        if t.detail:
            tip.append(t.detail)
        tip_text = "\n".join(tip)
        if tip_text != self._tip:
            self._tip = tip_text
            self.summary.setToolTip(tip_text)

    def _scroll_to_work(self) -> None:
        index = self.model.index(self._scroll_row, 0)
        if index.isValid():
            self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)

    def _select_row(self, number: int) -> None:
        idx = self.model.index(number - 1, 0)
        if idx.isValid():
            self.table.selectionModel().setCurrentIndex(
                idx, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
            self.table.scrollTo(idx)

    def _row_changed(self, current, _previous) -> None:
        part = self.model.part(current.row()) if current.isValid() else None
        self.grid.set_selected(part.number if part else None)
