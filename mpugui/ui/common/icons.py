"""Runtime icons: SVGs shipped inside the package (mpugui/icons/*.svg),
loaded with importlib.resources and tinted with the palette's text colour, so
they read well on light and dark themes and stay sharp at any scale."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

_SIZES = (16, 20, 24, 32, 48, 64)


@cache
def svg_text(name: str) -> str:
    return resources.files("mpugui").joinpath("icons", f"{name}.svg").read_text(encoding="utf-8")


def names() -> list[str]:
    folder = resources.files("mpugui").joinpath("icons")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".svg"))


def _tint() -> QColor:
    app = QGuiApplication.instance()
    if app is None:
        return QColor("#444444")
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)


def _selected_tint() -> QColor:
    if QGuiApplication.instance() is None:
        return QColor("#ffffff")
    return QGuiApplication.palette().color(QPalette.ColorRole.HighlightedText)


_cache: dict[tuple[str, str], QIcon] = {}


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """A QIcon for `name`, with `currentColor` replaced by `color` (default:
    the palette's text colour). Pixmaps are rendered for several sizes and the
    screen's device pixel ratio, so high-DPI screens get crisp lines."""
    # The key is found without building a QColor from a string: models ask
    # for icons while painting, and that constructor releases the GIL.
    if isinstance(color, str):
        key = (name, color)
    else:
        key = (name, (color or _tint()).name(QColor.NameFormat.HexArgb))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    tint = QColor(color) if color is not None else _tint()
    try:
        text = svg_text(name)
    except OSError:  # a missing icon is a blank, never a crash in a paint call
        return QIcon()
    renderer = QSvgRenderer(QByteArray(text.replace("currentColor", tint.name()).encode()))
    # Selected rows get the highlighted-text colour, so a coloured state icon
    # stays visible on the selection colour.
    on_selection = QSvgRenderer(QByteArray(text.replace(
        "currentColor", _selected_tint().name()).encode()))
    result = QIcon()
    ratio = 1.0
    screen = QGuiApplication.primaryScreen() if QGuiApplication.instance() else None
    if screen is not None:
        ratio = max(1.0, screen.devicePixelRatio())
    for size in _SIZES:
        for scale in sorted({1.0, ratio}):
            # Disabled is drawn faded by us: the style's generated disabled
            # pixmap barely differs from a light icon on a dark theme.
            for mode, opacity, svg in ((QIcon.Mode.Normal, 1.0, renderer),
                                       (QIcon.Mode.Disabled, 0.35, renderer),
                                       (QIcon.Mode.Selected, 1.0, on_selection)):
                pm = QPixmap(int(size * scale), int(size * scale))
                pm.fill(Qt.GlobalColor.transparent)
                painter = QPainter(pm)
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setOpacity(opacity * tint.alphaF())  # e.g. placeholder text
                svg.render(painter, QRectF(0, 0, pm.width(), pm.height()))
                painter.end()
                pm.setDevicePixelRatio(scale)
                result.addPixmap(pm, mode)
    _cache[key] = result
    return result


def clear_cache() -> None:
    """Forget tinted icons (the palette changed between light and dark)."""
    _cache.clear()


def app_icon() -> QIcon:
    return icon("mpugui", "#000000")  # the app icon has its own colours
