"""The painted progress bar in the queue, and the state colours shared by the
bar, the part grid and the legend (one palette, light and dark variants)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

# state -> (light theme, dark theme)
_COLORS: dict[str, tuple[str, str]] = {
    "done": ("#2da44e", "#3fb950"),
    "uploading": ("#0969da", "#4493f8"),
    "queued": ("#8c959f", "#6e7681"),
    "pending": ("#d8dee4", "#30363d"),
    "paused": ("#bf8700", "#d29922"),
    "failed": ("#cf222e", "#f85149"),
    "waiting": ("#bc4c00", "#db6d28"),  # for the network: amber, not a failure's red
    "cancelled": ("#6e7781", "#8b949e"),
    "assembling": ("#8250df", "#a371f7"),
    "verifying": ("#8250df", "#a371f7"),
}

FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2
BAR_ROLE = Qt.ItemDataRole.UserRole + 3  # (fraction, state) in one call, for the bar


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def state_color(state: str, palette: QPalette | None = None) -> QColor:
    """The state's colour for `palette`; without one, the application's
    (its darkness cached, see state_hex)."""
    if palette is None:
        return QColor(state_hex(state))
    light, dark = _COLORS.get(state, _COLORS["queued"])
    return QColor(dark if is_dark(palette) else light)


_app_dark: bool | None = None  # the application palette's, until forget_palette()


def state_hex(state: str) -> str:
    """The state's colour in the application palette as "#rrggbb". For the
    models' per-cell answers: no QColor or palette is built per call, as both
    release the GIL (slow while upload workers hold it)."""
    global _app_dark
    if _app_dark is None:
        _app_dark = is_dark(QApplication.palette())
    light, dark = _COLORS.get(state, _COLORS["queued"])
    return dark if _app_dark else light


def forget_palette() -> None:
    """The application palette changed (light <-> dark)."""
    global _app_dark
    _app_dark = None


_colors: dict[tuple[str, bool], QColor] = {}
_WHITE = QColor("white")


def _color(state: str, dark: bool) -> QColor:
    color = _colors.get((state, dark))
    if color is None:
        light, dark_hex = _COLORS.get(state, _COLORS["queued"])
        color = _colors[(state, dark)] = QColor(dark_hex if dark else light)
    return color


def track_color(palette: QPalette) -> QColor:
    """The empty part of a bar: a quiet tone of the base colour."""
    return state_color("pending", palette)


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
        painter.setBrush(_color("pending", dark))
        painter.drawRoundedRect(bar, radius, radius)
        if fraction > 0:
            fill = QRectF(bar)
            fill.setWidth(max(height, bar.width() * fraction))
            painter.setBrush(_color(state or "queued", dark))
            painter.drawRoundedRect(fill, radius, radius)
        text = f"{fraction * 100:.0f}%" if fraction < 1 or state == "done" else "100%"
        painter.setFont(self._bar_font(option.font))
        painter.setPen(_WHITE if fraction >= 0.5
                       else option.palette.color(QPalette.ColorRole.Text))
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
