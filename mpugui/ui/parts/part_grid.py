"""The part grid: one painted cell per part of the selected transfer.

Cells are sized so that every part fits in the view when it can (down to a
few pixels for 10,000 parts, scrolling below that). Only the cells inside the
region Qt asks to repaint are drawn, and a tick repaints only the cells whose
part changed, so a 10,000-part upload costs little more than a 10-part one.
Uploading cells fill from the bottom as their bytes go out.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QRegion,
    QResizeEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QToolTip, QWidget

from mpugui.core.states import PartState
from mpugui.core.transfer.snapshot import PartSnapshot, TransferSnapshot
from mpugui.ui.parts.parts_model import part_tooltip
from mpugui.ui.queue.progress_delegate import pending_edge, state_color, track_color

MIN_CELL, MAX_CELL, MARGIN = 4, 30, 10


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """a mixed with b: t=0 -> a, t=1 -> b."""
    return QColor(round(a.red() + (b.red() - a.red()) * t),
                  round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


class PartGrid(QAbstractScrollArea):
    part_activated = Signal(int)  # part number clicked or chosen with the keyboard

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("partGrid")
        self._parts: tuple[PartSnapshot, ...] = ()
        self._transfer_id: int | None = None
        self._checksum = ""
        self._cell = MAX_CELL
        self._gap = 3
        self._cols = 1
        self._x0 = MARGIN
        self._selected: int | None = None  # part number
        self._hover: int | None = None
        self.placeholder = "Select a transfer to see its parts."
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        self.setMinimumSize(160, 80)
        self.setAccessibleName("Part grid")
        self.setToolTip("")

    # -- data -------------------------------------------------------------------

    def set_transfer(self, t: TransferSnapshot | None) -> None:
        parts = t.parts if t is not None else ()
        tid = t.id if t is not None else None
        if tid != self._transfer_id or len(parts) != len(self._parts):
            self._transfer_id, self._parts = tid, parts
            self._checksum = t.checksum if t is not None else ""
            self._selected = self._hover = None
            self._relayout()
            self.viewport().update()
            return
        if parts is self._parts:
            return
        old, self._parts = self._parts, parts
        dirty = QRegion()
        for i, (a, b) in enumerate(zip(old, parts, strict=True)):
            if a is not b and a != b:
                dirty += self._cell_rect(i).adjusted(-2, -2, 2, 2)
        if not dirty.isEmpty():
            self.viewport().update(dirty)

    def parts(self) -> tuple[PartSnapshot, ...]:
        return self._parts

    def cell_size(self) -> int:
        return self._cell

    def set_selected(self, number: int | None) -> None:
        if number == self._selected:
            return
        old = self._selected
        self._selected = number
        for n in (old, number):
            if n is not None and 1 <= n <= len(self._parts):
                self.viewport().update(self._cell_rect(n - 1).adjusted(-3, -3, 3, 3))
        if number is not None:
            self._ensure_visible(number - 1)

    # -- geometry ---------------------------------------------------------------

    def _relayout(self) -> None:
        n = len(self._parts)
        width = max(1, self.viewport().width() - 2 * MARGIN)
        height = max(1, self.viewport().height() - 2 * MARGIN)
        cell = MIN_CELL
        if n:
            # the largest cell size at which every part fits in the view
            lo, hi = MIN_CELL, MAX_CELL
            while lo < hi:
                mid = (lo + hi + 1) // 2
                gap = self._gap_for(mid)
                cols = max(1, (width + gap) // (mid + gap))
                if math.ceil(n / cols) * (mid + gap) - gap <= height:
                    lo = mid
                else:
                    hi = mid - 1
            cell = lo
        self._cell, self._gap = cell, self._gap_for(cell)
        pitch = cell + self._gap
        self._cols = max(1, (width + self._gap) // pitch)
        if n and n < self._cols:
            self._cols = n
        used = self._cols * pitch - self._gap
        self._x0 = MARGIN + max(0, (width - used) // 2) if n > self._cols else MARGIN
        rows = math.ceil(n / self._cols) if n else 0
        total = rows * pitch - self._gap + 2 * MARGIN if rows else 0
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, total - self.viewport().height()))
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(pitch)

    @staticmethod
    def _gap_for(cell: int) -> int:
        return 1 if cell < 8 else 2 if cell < 14 else 3

    def _cell_rect(self, i: int) -> QRect:
        pitch = self._cell + self._gap
        row, col = divmod(i, self._cols)
        return QRect(self._x0 + col * pitch,
                     MARGIN + row * pitch - self.verticalScrollBar().value(),
                     self._cell, self._cell)

    def index_at(self, pos: QPoint) -> int | None:
        pitch = self._cell + self._gap
        x = pos.x() - self._x0
        y = pos.y() + self.verticalScrollBar().value() - MARGIN
        if x < 0 or y < 0:
            return None
        col, row = x // pitch, y // pitch
        if col >= self._cols or x % pitch >= self._cell or y % pitch >= self._cell:
            return None
        i = row * self._cols + col
        return i if i < len(self._parts) else None

    def _ensure_visible(self, i: int) -> None:
        r = self._cell_rect(i)
        bar = self.verticalScrollBar()
        if r.top() < 0:
            bar.setValue(bar.value() + r.top() - MARGIN)
        elif r.bottom() > self.viewport().height():
            bar.setValue(bar.value() + r.bottom() - self.viewport().height() + MARGIN)

    # -- painting ---------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        pal = self.palette()
        if not self._parts:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             self.placeholder)
            return
        colors: dict[str, QColor] = {s: state_color(s, pal) for s in (
            PartState.DONE, PartState.UPLOADING, PartState.FAILED)}
        colors[PartState.PENDING] = track_color(pal)
        base = pal.color(QPalette.ColorRole.Base)
        sending_bg = blend(base, colors[PartState.UPLOADING], 0.28)
        pitch = self._cell + self._gap
        scroll = self.verticalScrollBar().value()
        clip = event.rect()
        first_row = max(0, (clip.top() + scroll - MARGIN) // pitch)
        last_row = (clip.bottom() + scroll - MARGIN) // pitch
        first_col = max(0, (clip.left() - self._x0) // pitch)
        last_col = min(self._cols - 1, (clip.right() - self._x0) // pitch)
        n = len(self._parts)
        rounded = self._cell >= 9
        radius = min(4.0, self._cell / 5)
        painter.setPen(Qt.PenStyle.NoPen)
        if rounded:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        by_state: dict[str, list[QRectF]] = {PartState.DONE: [], PartState.PENDING: [],
                                             PartState.FAILED: []}
        sending: list[tuple[QRectF, float]] = []
        cell = self._cell
        for row in range(first_row, last_row + 1):
            start = row * self._cols
            if start >= n:
                break
            y = MARGIN + row * pitch - scroll
            for col in range(first_col, last_col + 1):
                i = start + col
                if i >= n:
                    break
                p = self._parts[i]
                rect = QRectF(self._x0 + col * pitch, y, cell, cell)
                if p.state == PartState.UPLOADING:
                    sending.append((rect, p.sent / p.size if p.size else 0.0))
                else:
                    by_state.get(p.state, by_state[PartState.PENDING]).append(rect)
        for state, rects in by_state.items():
            if not rects:
                continue
            painter.setBrush(colors[state])
            # a quiet fill would vanish on some themes (Adwaita-dark): an edge that shows
            pending = state == PartState.PENDING
            painter.setPen(QPen(pending_edge(pal), 1) if pending else Qt.PenStyle.NoPen)
            if rounded:
                if pending:  # the edge inside the cell, as wide as the others
                    rects = [r.adjusted(0.5, 0.5, -0.5, -0.5) for r in rects]
                for r in rects:
                    painter.drawRoundedRect(r, radius, radius)
            else:
                painter.drawRects(rects)
        painter.setPen(Qt.PenStyle.NoPen)
        for rect, fraction in sending:
            painter.setBrush(sending_bg)
            if rounded:
                painter.drawRoundedRect(rect, radius, radius)
            else:
                painter.drawRect(rect)
            if fraction > 0:
                h = rect.height() * min(1.0, fraction)
                fill = QRectF(rect.left(), rect.bottom() - h, rect.width(), h)
                painter.save()
                painter.setClipRect(fill)
                painter.setBrush(colors[PartState.UPLOADING])
                if rounded:
                    painter.drawRoundedRect(rect, radius, radius)
                else:
                    painter.drawRect(rect)
                painter.restore()
        self._paint_marks(painter, pal)

    def _paint_marks(self, painter: QPainter, pal: QPalette) -> None:
        """Outline the selected and hovered cells."""
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for number, color, width in ((self._hover, pal.color(QPalette.ColorRole.Text), 1.0),
                                     (self._selected, pal.color(QPalette.ColorRole.Highlight),
                                      2.0)):
            if number is None or not 1 <= number <= len(self._parts):
                continue
            r = QRectF(self._cell_rect(number - 1)).adjusted(-1.5, -1.5, 1.5, 1.5)
            painter.setPen(QPen(color, width))
            painter.drawRoundedRect(r, 3, 3)

    # -- events -----------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def sizeHint(self) -> QSize:
        return QSize(480, 220)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            i = self.index_at(event.pos())  # type: ignore[attr-defined]
            if i is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(),  # type: ignore[attr-defined]
                                  part_tooltip(self._parts[i], self._checksum),
                                  self.viewport(), self._cell_rect(i))
            return True
        if event.type() == QEvent.Type.Leave:
            self._set_hover(None)
        return super().viewportEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self.index_at(event.position().toPoint())
        self._set_hover(i + 1 if i is not None else None)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        i = self.index_at(event.position().toPoint())
        if i is not None and event.button() == Qt.MouseButton.LeftButton:
            self.set_selected(i + 1)
            self.part_activated.emit(i + 1)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        n = len(self._parts)
        if not n:
            return super().keyPressEvent(event)
        cur = (self._selected or 1) - 1
        step: dict[int, int] = {
            Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Up: -self._cols,
            Qt.Key.Key_Down: self._cols, Qt.Key.Key_Home: -n, Qt.Key.Key_End: n}
        if event.key() in step:
            new = max(0, min(n - 1, cur + step[event.key()]))
            self.set_selected(new + 1)
            self.part_activated.emit(new + 1)
            return
        super().keyPressEvent(event)

    def _set_hover(self, number: int | None) -> None:
        if number == self._hover:
            return
        old, self._hover = self._hover, number
        for n in (old, number):
            if n is not None and 1 <= n <= len(self._parts):
                self.viewport().update(self._cell_rect(n - 1).adjusted(-3, -3, 3, 3))


class PartLegend(QWidget):
    """Colour chips with counts: Done 12 · Uploading 4 · Pending 30 · Failed 1."""

    ORDER = ((PartState.DONE, "Done"), (PartState.UPLOADING, "Uploading"),
             (PartState.PENDING, "Pending"), (PartState.FAILED, "Failed"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts: dict[str, int] = {}
        self.setMinimumHeight(self.fontMetrics().height() + 6)

    def set_parts(self, parts: tuple[PartSnapshot, ...]) -> None:
        counts: dict[str, int] = {s: 0 for s in PartState}
        for p in parts:
            counts[p.state] = counts.get(p.state, 0) + 1
        if counts != self._counts:
            self._counts = counts
            self.updateGeometry()
            self.update()

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def _items(self) -> list[tuple[str, str]]:
        return [(s, f"{label} {self._counts.get(s, 0):,}") for s, label in self.ORDER]

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        chip = fm.height() - 4
        width = sum(chip + 6 + fm.horizontalAdvance(text) + 16 for _, text in self._items())
        return QSize(width, fm.height() + 6)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fm = self.fontMetrics()
        chip = fm.height() - 4
        x = 0
        cy = self.height() / 2
        for state, text in self._items():
            pending = state == PartState.PENDING
            color = track_color(pal) if pending else state_color(state, pal)
            painter.setPen(QPen(pending_edge(pal), 1) if pending else Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(x, cy - chip / 2, chip, chip), 3, 3)
            x += chip + 6
            painter.setPen(pal.color(QPalette.ColorRole.WindowText))
            painter.drawText(QRectF(x, 0, fm.horizontalAdvance(text) + 2, self.height()),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
            x += fm.horizontalAdvance(text) + 16
