"""The log view: a dock showing the message bridge's ring buffer, newest at
the bottom, with a level filter. Details (the exception type and where it
was raised) are in each line's tooltip."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mpugui.ui.common import icons
from mpugui.ui.common.messages import LEVELS, Message, MessageBridge
from mpugui.ui.queue.progress_delegate import state_hex

_ROOT = QModelIndex()  # the invisible root; a shared default is safe (never mutated)

_LEVEL_ICON = {"debug": ("log", "queued"), "info": ("about", "uploading"),
               "warning": ("failed", "paused"), "error": ("failed", "failed")}


class LogModel(QAbstractListModel):
    """A bounded list: when full, the oldest lines go first."""

    def __init__(self, capacity: int = 5000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._rows: list[Message] = []
        self.min_level = 1  # index into LEVELS: info and up

    def add(self, msg: Message) -> None:
        if LEVELS.index(msg.level) < self.min_level:
            return
        if len(self._rows) >= self.capacity:
            drop = len(self._rows) - self.capacity + 1
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            del self._rows[:drop]
            self.endRemoveRows()
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(msg)
        self.endInsertRows()

    def reset_from(self, messages: list[Message]) -> None:
        self.beginResetModel()
        keep = [m for m in messages if LEVELS.index(m.level) >= self.min_level]
        self._rows = keep[-self.capacity:]
        self.endResetModel()

    def messages(self) -> list[Message]:
        return list(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        m = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{time.strftime('%H:%M:%S', time.localtime(m.time))}  {m.sentence}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return m.details or m.sentence
        if role == Qt.ItemDataRole.DecorationRole:
            name, color = _LEVEL_ICON[m.level]
            return icons.icon(name, state_hex(color))
        return None


class LogDock(QDockWidget):
    def __init__(self, bridge: MessageBridge, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logDock")
        self.bridge = bridge
        self.model = LogModel(bridge.history.maxlen or 5000, self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setWordWrap(False)
        self.view.setAccessibleName("Log")
        self.level = QComboBox()
        self.level.addItems(["Debug and up", "Info and up", "Warnings and errors", "Errors"])
        self.level.setCurrentIndex(1)
        self.level.setToolTip("Which messages to show")
        self.copy = QPushButton(icons.icon("copy"), "Copy")
        self.copy.setToolTip("Copy the selected lines (or all) to the clipboard")
        self.clear = QPushButton(icons.icon("remove"), "Clear")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.level)
        bar.addStretch(1)
        bar.addWidget(self.copy)
        bar.addWidget(self.clear)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self.setWidget(body)
        self._cleared_at = 0.0
        self.model.reset_from(list(bridge.history))
        bridge.posted.connect(self._on_message)
        self.level.currentIndexChanged.connect(self._set_level)
        self.copy.clicked.connect(self.copy_lines)
        self.clear.clicked.connect(self.clear_lines)

    def _on_message(self, msg: Message) -> None:
        bar = self.view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.model.add(msg)
        if at_end:
            self.view.scrollToBottom()

    def clear_lines(self) -> None:
        self._cleared_at = time.time()
        self.model.reset_from([])

    def _set_level(self, level: int) -> None:
        self.model.min_level = level
        self.model.reset_from([m for m in self.bridge.history if m.time > self._cleared_at])
        self.view.scrollToBottom()

    def copy_lines(self) -> None:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        msgs = self.model.messages()
        chosen = [msgs[r] for r in rows] if rows else msgs
        text = "\n".join(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(m.time))} "
                         f"{m.level.upper()} {m.sentence}" + (f"\n    {m.details}"
                                                             if m.details else "")
                         for m in chosen)
        QApplication.clipboard().setText(text)
