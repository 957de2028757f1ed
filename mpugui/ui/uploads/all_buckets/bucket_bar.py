"""Paints the account view's "Bytes held" cell: a bar as long as the bucket's
share of the largest bucket, coloured by its oldest upload's age (green under
a week, amber under a month, red older), with the size written over it."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from mpugui.ui.uploads.all_buckets.buckets_model import AGE_ROLE, SHARE_ROLE

WEEK, MONTH = 7 * 86400, 30 * 86400
_FRESH, _AGING, _OLD = QColor("#2da44e"), QColor("#d29922"), QColor("#cf222e")


def age_colour(age_seconds: float | None) -> QColor:
    if age_seconds is None or age_seconds < WEEK:
        return _FRESH
    return _AGING if age_seconds < MONTH else _OLD


class BucketBarDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        share = float(index.data(SHARE_ROLE) or 0.0)
        style = option.widget.style() if option.widget else None
        if style is not None and option.state & QStyle.StateFlag.State_Selected:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                                option.widget)
        rect = option.rect.adjusted(3, 4, -3, -4)
        painter.save()
        if share > 0:
            bar = QRect(rect.left(), rect.top(), max(2, int(rect.width() * share)),
                        rect.height())
            colour = QColor(age_colour(index.data(AGE_ROLE)))
            colour.setAlpha(200)
            painter.fillRect(bar, colour)
        painter.setPen(option.palette.text().color())
        painter.drawText(rect.adjusted(4, 0, -4, 0),
                         int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                         str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        painter.restore()
