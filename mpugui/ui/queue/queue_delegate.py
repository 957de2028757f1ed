"""The queue's text cells, painted from the row's snapshot in one model call.

Qt's default delegate asks the model ~8 roles per cell (text, icon, font,
alignment, colours, check state...), each a trip from C++ into Python and
back through PySide's conversions: ~1,500 calls per repaint of a full
window, which made a repaint cost 20-40 ms on this 2-core machine while a
big folder was being added. This delegate asks for the row once
(TRANSFER_ROLE) and draws what the model would have said.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from mpugui.core.states import FAILED, QUEUED, WAITING
from mpugui.ui.common import icons
from mpugui.ui.common.palette import state_color, state_hex
from mpugui.ui.common.table_model import LEFT, RIGHT
from mpugui.ui.queue.queue_columns import (
    RIGHT_COLUMNS,
    STATE,
    STATE_LABELS,
    TRANSFER_ROLE,
    display,
)

_PANEL = QStyle.PrimitiveElement.PE_PanelItemViewItem
_SELECTED = QStyle.StateFlag.State_Selected
_ACTIVE = QStyle.StateFlag.State_Active
_NORMAL, _INACTIVE = QPalette.ColorGroup.Normal, QPalette.ColorGroup.Inactive
_TEXT, _HIGHLIGHTED = QPalette.ColorRole.Text, QPalette.ColorRole.HighlightedText


class QueueCellDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        widget = option.widget
        style = widget.style() if widget else QApplication.style()
        style.drawPrimitive(_PANEL, option, painter, widget)
        t = index.data(TRANSFER_ROLE)
        if t is None:
            return
        col = index.column()
        # (a waiting row's state carries the model's countdown: asked for)
        text = index.data() if col == STATE and t.state == WAITING else \
            display(t, col)
        if not text and col != STATE:
            return  # (speed and ETA of the rows not moving)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        rect = option.rect.adjusted(margin, 0, -margin, 0)
        state = option.state
        if col == STATE:
            size = option.decorationSize
            icon = icons.icon(t.state if t.state in STATE_LABELS else QUEUED,
                              state_hex(t.state))
            box = QRect(rect.left(), rect.top() + (rect.height() - size.height()) // 2,
                        size.width(), size.height())
            icon.paint(painter, box)
            rect.setLeft(box.right() + 1 + margin)
        group = _NORMAL if state & _ACTIVE else _INACTIVE
        if state & _SELECTED:
            color = option.palette.color(group, _HIGHLIGHTED)
        elif col == STATE and t.state == FAILED:
            color = state_color(FAILED)
        else:
            color = option.palette.color(group, _TEXT)
        mode = (widget.textElideMode() if isinstance(widget, QAbstractItemView)
                else Qt.TextElideMode.ElideMiddle)
        text = option.fontMetrics.elidedText(text, mode, rect.width())
        painter.save()
        painter.setPen(color)
        painter.drawText(rect, RIGHT if col in RIGHT_COLUMNS else LEFT, text)
        painter.restore()
