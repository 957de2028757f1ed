"""A toolbar that fits a narrow window (1024x600, or a scaled screen): when
its labelled buttons do not fit, all but the first few drop their labels
(tooltips keep the words), before anything goes behind the » menu."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import QToolBar, QToolButton


class FittingToolBar(QToolBar):
    def __init__(self, title: str) -> None:
        super().__init__(title)
        self._keep: set[QAction] = set()
        self._full_width = 0  # what every label needs; measured while labelled
        self.compact = False

    def keep_labels(self, *actions: QAction) -> None:
        """The actions whose labels stay however narrow the window is."""
        self._keep.update(actions)

    def _buttons(self) -> list[QToolButton]:
        found = (self.widgetForAction(a) for a in self.actions() if a not in self._keep)
        return [b for b in found if isinstance(b, QToolButton)]

    def resizeEvent(self, event: QResizeEvent) -> None:
        if not self.compact:
            self._full_width = self.sizeHint().width()
        compact = event.size().width() < self._full_width
        if compact != self.compact:
            self.compact = compact
            style = (Qt.ToolButtonStyle.ToolButtonIconOnly if compact
                     else self.toolButtonStyle())
            for button in self._buttons():
                button.setToolButtonStyle(style)
        super().resizeEvent(event)
