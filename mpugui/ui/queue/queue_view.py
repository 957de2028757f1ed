"""The queue table: takes file and folder drops from the file manager and
shows what to do when it is empty."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QWidget

from mpugui.ui.common import icons
from mpugui.ui.common.screen_fit import SHARE, available_geometry
from mpugui.ui.queue.progress_delegate import ProgressDelegate
from mpugui.ui.queue.queue_columns import (
    COLUMNS,
    DESTINATION,
    ETA,
    NAME,
    PARTS,
    PROGRESS,
    SIZE,
    SPEED,
    STATE,
)
from mpugui.ui.queue.queue_delegate import QueueCellDelegate
from mpugui.ui.queue.visible_rows import VisibleRowsView


def local_paths(mime) -> list[str]:
    """Local files and folders in a drag, or [] when it carries anything else."""
    if mime is None or not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(u.isLocalFile() for u in urls):
        return []
    return [u.toLocalFile() for u in urls]


class QueueView(VisibleRowsView):
    paths_dropped = Signal(list)  # local paths dropped on the queue

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueView")
        self.setAccessibleName("Transfer queue")
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setDropIndicatorShown(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        self.setItemDelegate(QueueCellDelegate(self))
        self.setItemDelegateForColumn(PROGRESS, ProgressDelegate(self))
        self.setMinimumSize(QSize(360, 140))
        self._drag_active = False

    def setup_columns(self) -> None:
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        fm = self.fontMetrics()
        x = fm.horizontalAdvance("x")
        widths = {NAME: 26, DESTINATION: 38, PROGRESS: 18, STATE: 13, PARTS: 11}
        pixels = {col: x * widths.get(col, 10) + 24 for col in range(len(COLUMNS))}
        # On a small screen (QT_SCALE_FACTOR=2 on 1366x768: 683 logical px)
        # the columns take what their values need ("90.0 MiB", "Uploading")
        # and Name shrinks, so Progress and State stay on screen instead of
        # behind a horizontal scroll bar.
        room = 0.85 * available_geometry(self).width() * SHARE
        if sum(w for col, w in pixels.items() if col != DESTINATION) > room:
            compact = {SIZE: 9, PROGRESS: 10, SPEED: 10, ETA: 5, STATE: 12, PARTS: 7}
            pixels = {col: x * compact.get(col, 20) + 12 for col in range(len(COLUMNS))}
            values = sum(w for col, w in pixels.items() if col not in (NAME, DESTINATION))
            pixels[NAME] = max(x * 8, int(room) - values)  # what is left, at least 8 chars
        for col, width in pixels.items():
            header.resizeSection(col, width)
        header.setSectionResizeMode(DESTINATION, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicatorShown(True)

    # -- drops ------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self._set_drag(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._set_drag(False)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_drag(False)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.paths_dropped.emit(paths)

    def _set_drag(self, active: bool) -> None:
        if active != self._drag_active:
            self._drag_active = active
            self.viewport().update()

    # -- painting ---------------------------------------------------------------

    def no_match_text(self) -> str:
        """What an empty view says while a filter hides every transfer."""
        source = getattr(self.model(), "sourceModel", lambda: None)()
        if source is None or not hasattr(source, "filter_text") or self.model().rowCount():
            return ""
        text = source.filter_text()
        return f"No transfer matches “{text}”." if text and source.total() else ""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        empty = self.model() is None or self.model().rowCount() == 0
        if not empty and not self._drag_active:
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        area = self.viewport().rect().adjusted(12, 12, -12, -12)
        if self._drag_active:
            pen = QPen(pal.color(QPalette.ColorRole.Highlight), 2, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(area, 10, 10)
        if not empty:
            return
        no_match = self.no_match_text()
        if no_match:  # transfers there, none shown: say so, not "drop files here"
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, no_match)
            return
        size = 48
        top = area.center().y() - size
        icon = icons.icon("add-folder", pal.color(QPalette.ColorRole.PlaceholderText))
        icon.paint(painter, QRect(area.center().x() - size // 2, top, size, size))
        painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        text_rect = QRect(area.left(), top + size + 10, area.width(), 60)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         "Drop files or folders here to upload them\n")
        font.setPointSizeF(font.pointSizeF() / 1.25)
        painter.setFont(font)
        painter.drawText(text_rect.adjusted(0, painter.fontMetrics().height() * 2, 0, 0),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         "or use Add files… (Ctrl+O) and Add folder… (Ctrl+Shift+O)")
