"""Every state colour stands out from the background by at least 3:1
(WCAG's minimum for meaningful graphics) on light and dark palettes,
Adwaita-dark's included, where pending parts used to vanish (issue 14)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette

from mpugui.ui.common import palette as pd
from mpugui.ui.parts.part_grid import PartGrid
from tests.ui.test_ui_part_grid import part, snapshot


def _palette(window: str, base: str, text: str) -> QPalette:
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(window))
    pal.setColor(QPalette.ColorRole.Base, QColor(base))
    pal.setColor(QPalette.ColorRole.Text, QColor(text))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(text))
    return pal


PALETTES = {
    "light": _palette("#efefef", "#ffffff", "#000000"),
    "adwaita-dark": _palette("#353535", "#2d2d2d", "#eeeeec"),
    "breeze-dark": _palette("#31363b", "#232629", "#eff0f1"),
    "black": _palette("#000000", "#000000", "#ffffff"),
}
STATES = ["done", "uploading", "queued", "paused", "failed", "cancelled", "assembling",
          "verifying"]


@pytest.mark.parametrize("name", list(PALETTES))
def test_state_colours_have_3_to_1_contrast(qapp, name: str) -> None:
    pal = PALETTES[name]
    backgrounds = [pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Window)]
    for state in STATES:
        color = pd.state_color(state, pal)
        for bg in backgrounds:
            assert pd.contrast_ratio(color, bg) >= 3.0, (name, state, color.name(), bg.name())
    for bg in backgrounds:  # pending parts: a quiet fill, an edge that shows
        assert pd.contrast_ratio(pd.pending_edge(pal), bg) >= 3.0, (name, bg.name())


def test_contrast_ratio_is_wcags() -> None:
    assert round(pd.contrast_ratio(QColor("#000000"), QColor("#ffffff")), 1) == 21.0
    assert pd.contrast_ratio(QColor("#777777"), QColor("#777777")) == 1.0


def test_pending_cells_are_visible_on_adwaita_dark(qtbot) -> None:
    grid = PartGrid()
    qtbot.addWidget(grid)
    grid.setPalette(PALETTES["adwaita-dark"])
    grid.resize(300, 200)
    grid.show()
    grid.set_transfer(snapshot(tuple(part(n, "pending") for n in range(1, 41))))
    image = grid.grab().toImage()
    base = PALETTES["adwaita-dark"].color(QPalette.ColorRole.Base)
    best = max(pd.contrast_ratio(image.pixelColor(x, y), base)
               for x in range(0, image.width(), 2) for y in range(0, image.height(), 2))
    assert best >= 3.0


@pytest.mark.parametrize("dark", [False, True])
def test_progress_text_reads_on_every_state_fill(dark: bool) -> None:
    # The percentage over a bar's fill: 4.5:1 (WCAG's text minimum) on each
    # state's colour, light and dark (white on the dark palette's light
    # green read 2.2:1 in a real window).
    for state in pd._COLORS:
        fill = pd.theme_color(state, dark)
        assert pd.contrast_ratio(pd.text_on(fill), fill) >= 4.5, (state, fill.name())
