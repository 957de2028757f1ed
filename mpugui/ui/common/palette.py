"""The state palette: one colour per transfer and part state (light and dark
variants), made legible against the theme's own backgrounds (WCAG 3:1). The
queue's bar, the part grid, the legend, the status bar and the log dock all
paint with it."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

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


def theme_color(state: str, dark: bool) -> QColor:
    """The state's colour as designed for a light or dark theme, not moved
    for contrast (the bar's fill, painted on its own track). Cached."""
    color = _colors.get((state, dark))
    if color is None:
        light, dark_hex = _COLORS.get(state, _COLORS[QUEUED])
        color = _colors[(state, dark)] = QColor(dark_hex if dark else light)
    return color


def track_color(palette: QPalette) -> QColor:
    """The empty part of a bar: a quiet tone of the base colour."""
    return state_color(PartState.PENDING, palette)
