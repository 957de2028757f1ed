"""The painted progress bar in the queue (in the state colours of
ui/common/palette.py, which the part grid and the legend share)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from mpugui.core.states import DONE, QUEUED, PartState
from mpugui.ui.common.palette import is_dark, text_on, theme_color

__all__ = ["BAR_ROLE", "FRACTION_ROLE", "STATE_ROLE", "ProgressDelegate"]


FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2
BAR_ROLE = Qt.ItemDataRole.UserRole + 3  # (fraction, state) in one call, for the bar


class ProgressDelegate(QStyledItemDelegate):
    """Paints the bar (BAR_ROLE: fraction and state) as a rounded bar in the
    state's colour with the percentage on it; no widgets per row, so 10,000
    rows cost only the visible ones. One model call per cell: the default
    initStyleOption would ask the model ~8 roles, a trip into Python each."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._font: tuple[QFont, QFont] | None = None  # (the view's, the bar's)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        style = option.widget.style() if option.widget else QApplication.style()
        # the cell's selection and hover background, as the default delegate draws it
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                            option.widget)
        bar_data = index.data(BAR_ROLE)
        if bar_data is None:
            return
        fraction, state = bar_data
        fraction = max(0.0, min(1.0, float(fraction)))
        rect = QRectF(option.rect).adjusted(6, 0, -6, 0)
        height = min(16.0, max(8.0, rect.height() - 8))
        bar = QRectF(rect.left(), rect.center().y() - height / 2, rect.width(), height)
        radius = height / 2
        dark = is_dark(option.palette)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme_color(PartState.PENDING, dark))
        painter.drawRoundedRect(bar, radius, radius)
        edge = bar.left()
        fill_color = theme_color(state or QUEUED, dark)
        if fraction > 0:
            fill = QRectF(bar)
            fill.setWidth(max(height, bar.width() * fraction))
            painter.setBrush(fill_color)
            painter.drawRoundedRect(fill, radius, radius)
            edge = fill.right()
        text = f"{fraction * 100:.0f}%" if fraction < 1 or state == DONE else "100%"
        painter.setFont(self._bar_font(option.font))
        # The text crosses the fill's edge near 50%: its own colour over the fill, the
        # palette's text colour over the track (one colour left half of
        # "50%" unreadable on the light track).
        for left, right, pen in ((bar.left(), edge, text_on(fill_color)),
                                 (edge, bar.right(),
                                  option.palette.color(QPalette.ColorRole.Text))):
            if right > left:
                painter.setClipRect(QRectF(left, bar.top(), right - left, bar.height()))
                painter.setPen(pen)
                painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _bar_font(self, base: QFont) -> QFont:
        if self._font is None or self._font[0] != base:
            font = QFont(base)
            font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
            font.setBold(True)
            self._font = (QFont(base), font)
        return self._font[1]

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(140, max(22, option.fontMetrics.height() + 8))
