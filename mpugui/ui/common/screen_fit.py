"""Windows and dialogs sized from the screen they open on, not from a
1366x768 desktop: a 1280x720-logical screen (1920x1080 at 150%) or
QT_SCALE_FACTOR=2 on a small one must still show every button."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

SHARE = 0.92  # of the available area, leaving room for the window frame


def available_geometry(widget: QWidget) -> QRect:
    """The available area (no panels or docks) of the screen `widget` (or
    its parent) is on, in logical pixels."""
    anchor = widget.parentWidget() or widget
    screen = anchor.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1024, 600)


def bounded(size: QSize, area: QRect, share: float = SHARE) -> QSize:
    """`size`, shrunk where it would not fit in `share` of `area`."""
    return QSize(min(size.width(), int(area.width() * share)),
                 min(size.height(), int(area.height() * share)))


def fits(rect: QRect, area: QRect) -> bool:
    """Whether a restored geometry is wholly usable on this screen."""
    return rect.width() <= area.width() and rect.height() <= area.height() \
        and area.contains(rect.center())


def size_to_screen(window: QWidget, wanted: QSize, minimum: QSize) -> None:
    """Minimum and initial size of `window`, both within its screen, and
    centred there (or over its parent)."""
    area = available_geometry(window)
    window.setMinimumSize(bounded(minimum, area))
    size = bounded(wanted, area)
    window.resize(size)
    parent = window.parentWidget()
    centre = (parent.geometry() if parent is not None and parent.isVisible()
              else area).center()
    frame = QRect(0, 0, size.width(), size.height())
    frame.moveCenter(centre)
    # keep the top-left corner on the screen: the title bar and buttons stay reachable
    frame.moveTo(max(area.left(), min(frame.left(), area.right() - size.width())),
                 max(area.top(), min(frame.top(), area.bottom() - size.height())))
    window.move(frame.topLeft())


def scrolled(content: QWidget) -> QScrollArea:
    """`content` in a frameless scroll area: the dialog may be smaller than
    what it holds (a small or scaled screen) while its buttons, outside the
    area, stay on screen."""
    area = QScrollArea()
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(content)
    return area
