"""Quitting while uploads run: asked once, with a "Don't ask again".

Nothing is lost by quitting (the journal has every finished part, and the
next start finds the rest as after a crash), so the question only says what
happens next; it is asked non-modally (tests drive the box) and not at all
once "Don't ask again" was ticked.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QAbstractButton, QCheckBox, QMessageBox, QWidget

from mpugui.engine.engine import TransferEngine
from mpugui.ui.common import settings as cfg


def question(running: int, auto_resume: bool) -> str:
    """'3 uploads are running; they will continue the next time mpugui starts.'"""
    what = "1 upload is running" if running == 1 else f"{running:,} uploads are running"
    they = "it" if running == 1 else "they"
    if auto_resume:
        return f"{what}; {they} will continue the next time mpugui starts."
    return (f"{what}; {they} will wait, paused, for Resume the next time mpugui starts "
            "(or turn on Settings ▸ Resume unfinished uploads at start).")


class QuitGuard:
    """Whether to ask before quitting, and the question itself."""

    def __init__(self, parent: QWidget, engine: TransferEngine, settings: QSettings) -> None:
        self.parent, self.engine, self.settings = parent, engine, settings
        self.box: QMessageBox | None = None  # the open question, if any
        self.quit_button: QAbstractButton | None = None
        self.dont_ask: QCheckBox | None = None

    def needed(self) -> bool:
        return cfg.get(self.settings, cfg.ASK_BEFORE_QUIT) and self.engine.running_count() > 0

    def ask(self, quit_now: Callable[[], object]) -> None:
        """Open the question (once); `quit_now` runs when Quit is chosen."""
        if self.box is not None:
            self.box.raise_()
            return
        running = self.engine.running_count()
        box = QMessageBox(QMessageBox.Icon.Question, "Quit mpugui",
                          question(running, cfg.get(self.settings, cfg.AUTO_RESUME)),
                          QMessageBox.StandardButton.NoButton, self.parent)
        self.quit_button = box.addButton("&Quit", QMessageBox.ButtonRole.AcceptRole)
        stay = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stay)
        self.dont_ask = QCheckBox("Don't ask again")
        box.setCheckBox(self.dont_ask)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: self._answered(box, quit_now))
        self.box = box
        box.open()

    def _answered(self, box: QMessageBox, quit_now: Callable[[], object]) -> None:
        self.box = None
        if box.clickedButton() is not self.quit_button:
            return
        if self.dont_ask is not None and self.dont_ask.isChecked():
            cfg.put(self.settings, cfg.ASK_BEFORE_QUIT, False)
            self.settings.sync()
        quit_now()
