"""The Accounts dialog's questions (save the changes? remove the account?):
window-modal message boxes that never block, one open at a time, whose
answer arrives later through a callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

Answer = Callable[[QMessageBox.StandardButton], None]


class Question(QObject):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.box: QMessageBox | None = None  # the open question, if any
        self._on_answer: Answer | None = None

    def ask(self, text: str, informative: str, buttons: QMessageBox.StandardButton,
            on_answer: Answer, default: QMessageBox.StandardButton) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, "mpugui", text, buttons, self._parent)
        box.setInformativeText(informative)
        box.setDefaultButton(default)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        # Bound methods rather than closures: PySide 6.12 crashed when a
        # deleted widget's signal still held a lambda.
        box.buttonClicked.connect(self._answered)
        box.finished.connect(self._finished)
        self.box, self._on_answer = box, on_answer
        box.open()
        return box

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None

    def _answered(self, button: Any) -> None:
        box, on_answer = self.box, self._on_answer
        self.box, self._on_answer = None, None
        if box is not None and on_answer is not None:
            on_answer(box.standardButton(button))

    def _finished(self) -> None:
        if self.sender() is self.box:  # not a newer question asked meanwhile
            self.box, self._on_answer = None, None
