"""The painted progress bar in the queue, and the state colours shared by the
bar, the part grid and the legend (one palette, light and dark variants)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from mpugui.core.states import (
    ASSEMBLING,
    CANCELLED,
    DONE,
    FAILED,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    WAITING,
    PartState,
)

# state -> (light theme, dark theme); a part's uploading, done and failed are
# its transfer's (the same strings), pending its own.
_COLORS: dict[str, tuple[str, str]] = {
    DONE: ("#2da44e", "#3fb950"),
    UPLOADING: ("#0969da", "#4493f8"),
    QUEUED: ("#8c959f", "#6e7681"),
    PartState.PENDING: ("#d8dee4", "#30363d"),
    PAUSED: ("#bf8700", "#d29922"),
    FAILED: ("#cf222e", "#f85149"),
    WAITING: ("#bc4c00", "#db6d28"),  # for the network: amber, not a failure's red
    CANCELLED: ("#6e7781", "#8b949e"),
    ASSEMBLING: ("#8250df", "#a371f7"),
    VERIFYING: ("#8250df", "#a371f7"),
}

FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2
BAR_ROLE = Qt.ItemDataRole.UserRole + 3  # (fraction, state) in one call, for the bar


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


MIN_CONTRAST = 3.0  # WCAG's minimum for graphics that carry meaning


def _luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        x = v / 255
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def legible(color: QColor, palette: QPalette, minimum: float = MIN_CONTRAST) -> QColor:
    """`color`, moved toward white on a dark palette (black on a light one)
    until it stands out by `minimum` from both the Base and Window colours:
    a theme's own backgrounds (Adwaita-dark, Breeze, high contrast) decide."""
    backgrounds = (palette.color(QPalette.ColorRole.Base),
                   palette.color(QPalette.ColorRole.Window))
    target = QColor("#ffffff") if is_dark(palette) else QColor("#000000")
    out = QColor(color)
    for step in range(1, 21):
        if min(contrast_ratio(out, bg) for bg in backgrounds) >= minimum:
            break
        t = step / 20
        out = QColor(round(color.red() + (target.red() - color.red()) * t),
                     round(color.green() + (target.green() - color.green()) * t),
                     round(color.blue() + (target.blue() - color.blue()) * t))
    return out


# (id of the palette's cache key) -> state -> "#rrggbb"
_cache: dict[tuple[int, int, bool], dict[str, str]] = {}


def _palette_key(palette: QPalette) -> tuple[int, int, bool]:
    return (palette.color(QPalette.ColorRole.Base).rgb(),
            palette.color(QPalette.ColorRole.Window).rgb(), is_dark(palette))


def _state_hexes(palette: QPalette) -> dict[str, str]:
    key = _palette_key(palette)
    found = _cache.get(key)
    if found is None:
        dark = key[2]
        found = {s: legible(QColor(pair[1] if dark else pair[0]), palette).name()
                 for s, pair in _COLORS.items()}
        # Pending cells stay quiet inside but get an edge that can be seen.
        found["pending-edge"] = legible(QColor(_COLORS[QUEUED][1 if dark else 0]),
                                        palette).name()
        found[PartState.PENDING] = QColor(_COLORS[PartState.PENDING][1 if dark else 0]).name()
        _cache[key] = found
    return found


def state_color(state: str, palette: QPalette | None = None) -> QColor:
    """The state's colour for `palette` (at least 3:1 against its
    backgrounds); without one, the application's (cached, see state_hex)."""
    if palette is None:
        return QColor(state_hex(state))
    hexes = _state_hexes(palette)
    return QColor(hexes.get(state, hexes[QUEUED]))


def pending_edge(palette: QPalette) -> QColor:
    """The outline that makes a pending part visible on any background."""
    return QColor(_state_hexes(palette)["pending-edge"])


_app_hexes: dict[str, str] | None = None  # the application palette's, until forget_palette()


def state_hex(state: str) -> str:
    """The state's colour in the application palette as "#rrggbb". For the
    models' per-cell answers: no QColor or palette is built per call, as both
    release the GIL (slow while upload workers hold it)."""
    global _app_hexes
    if _app_hexes is None:
        _app_hexes = _state_hexes(QApplication.palette())
    return _app_hexes.get(state) or _app_hexes[QUEUED]


def forget_palette() -> None:
    """The application palette changed (light <-> dark)."""
    global _app_hexes
    _app_hexes = None


_colors: dict[tuple[str, bool], QColor] = {}
_WHITE = QColor("white")
_INK = QColor("#111111")


def text_on(fill: QColor) -> QColor:
    """White or near-black, whichever reads better on `fill` (the dark
    palette's light greens and purples want dark text)."""
    return _WHITE if contrast_ratio(_WHITE, fill) >= contrast_ratio(_INK, fill) else _INK


def _color(state: str, dark: bool) -> QColor:
    color = _colors.get((state, dark))
    if color is None:
        light, dark_hex = _COLORS.get(state, _COLORS[QUEUED])
        color = _colors[(state, dark)] = QColor(dark_hex if dark else light)
    return color


def track_color(palette: QPalette) -> QColor:
    """The empty part of a bar: a quiet tone of the base colour."""
    return state_color(PartState.PENDING, palette)


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
        painter.setBrush(_color(PartState.PENDING, dark))
        painter.drawRoundedRect(bar, radius, radius)
        edge = bar.left()
        fill_color = _color(state or QUEUED, dark)
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
