"""What can be done with the In-progress tab's listed uploads: the row of
flat tool buttons (abort, clean up, adopt, lifecycle rule, copy IDs) with
the tab's status sentence beside them, and the same actions as the table's
context menu. Each is a signal; the tab decides what it does."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSizePolicy, QToolButton, QWidget

from mpugui.ui.common import icons

ERROR_STYLE = "color: #b3261e;"


class ActionBar(QWidget):
    abort = Signal()
    cleanup = Signal()
    adopt = Signal()
    lifecycle = Signal()
    copy_ids = Signal()
    copy_uris = Signal()  # the context menu's only

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.abort_button = _tool("Abort selected…", "cancel",
                                  "Abort the selected uploads and delete their parts")
        self.cleanup_button = _tool("Clean up older than…", "remove-finished",
                                    "Preview, then abort every listed upload older than N days")
        self.adopt_button = _tool("Resume with local file…", "resume",
                                  "Check the selected upload's parts against a local file, then "
                                  "upload only the missing parts and complete it")
        self.lifecycle_button = _tool("Lifecycle rule…", "settings",
                                      "Make the bucket abort incomplete uploads after N days")
        self.copy_button = _tool("Copy upload ID", "copy", "Copy the selected uploads' full IDs")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for button, signal in ((self.abort_button, self.abort),
                               (self.cleanup_button, self.cleanup),
                               (self.adopt_button, self.adopt),
                               (self.lifecycle_button, self.lifecycle),
                               (self.copy_button, self.copy_ids)):
            button.clicked.connect(signal)
            row.addWidget(button)
        row.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.status, 3)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def enable(self, *, selected: int, aborting: bool, listed: bool) -> None:
        """What applies to `selected` rows, while aborts run or not, once a
        bucket is `listed`."""
        self.abort_button.setEnabled(bool(selected) and not aborting)
        self.adopt_button.setEnabled(selected == 1)
        self.copy_button.setEnabled(bool(selected))
        self.cleanup_button.setEnabled(listed and not aborting)

    def popup_menu(self, parent: QWidget, at: QPoint, *, selected: int,
                   aborting: bool) -> QMenu:
        """The table's context menu at global position `at`."""
        menu = QMenu(parent)
        entries = (("copy", "Copy upload ID", self.copy_ids, True),
                   (None, "Copy S3 URI", self.copy_uris, True),
                   ("resume", "Resume with local file…", self.adopt, selected == 1),
                   ("cancel", "Abort…", self.abort, bool(selected) and not aborting))
        for i, (icon_name, text, signal, enabled) in enumerate(entries):
            if i == 2:
                menu.addSeparator()
            action = menu.addAction(text)
            if icon_name:
                action.setIcon(icons.icon(icon_name))
            action.setEnabled(enabled)
            action.triggered.connect(signal)
        menu.popup(at)
        return menu


def _tool(text: str, icon_name: str, tip: str) -> QToolButton:
    """A flat tool button with its text beside the icon."""
    b = QToolButton()
    b.setText(text)
    b.setIcon(icons.icon(icon_name))
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setToolTip(tip)
    b.setAutoRaise(True)
    return b
