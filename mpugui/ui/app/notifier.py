"""Completion and failure notifications: through the system tray when there
is one, else as a status-bar line. Bursts are gathered into one notice
("12 uploads finished") and only transitions seen live are told — a
transfer restored from the journal as done says nothing."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QStatusBar, QSystemTrayIcon, QWidget

from mpugui.core.states import DONE, FAILED
from mpugui.core.transfer.snapshot import REMOVED
from mpugui.ui.common import icons
from mpugui.ui.queue.queue_model import QueueModel


class Notifier(QObject):
    def __init__(self, model: QueueModel, status_bar: QStatusBar,
                 enabled: Callable[[], bool], parent: QWidget) -> None:
        super().__init__(parent)
        self.model, self.status_bar, self.enabled = model, status_bar, enabled
        self.last_text = ""
        self._last_state: dict[int, str] = {}
        self._finished: list[tuple[int, str]] = []
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icons.app_icon(), parent)
            self.tray.setToolTip("mpugui")
            self.tray.show()
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-notify")
        self._timer.setSingleShot(True)
        self._timer.setInterval(400)
        self._timer.timeout.connect(self._notify)
        self._stopped = False

    def on_state_changed(self, transfer_id: int, state: str) -> None:
        before = self._last_state.get(transfer_id)
        if state == REMOVED:
            self._last_state.pop(transfer_id, None)
            return
        self._last_state[transfer_id] = state
        if self._stopped:  # the engine's last ticks, as the window closes
            return
        if before is not None and before != state and state in (DONE, FAILED):
            self._finished.append((transfer_id, state))
            self._timer.start()

    def stop(self) -> None:
        self._stopped = True
        self._timer.stop()
        if self.tray is not None:
            self.tray.hide()

    def _notify(self) -> None:
        finished, self._finished = self._finished, []
        if not finished or not self.enabled():
            return
        done = [tid for tid, s in finished if s == DONE]
        failed = [tid for tid, s in finished if s == FAILED]
        parts = []
        if len(done) == 1:
            t = self.model.transfer(done[0])
            parts.append(f"Uploaded {t.name}." if t else "One upload finished.")
        elif done:
            parts.append(f"{len(done)} uploads finished.")
        if len(failed) == 1:
            t = self.model.transfer(failed[0])
            parts.append(f"{t.name} failed: {t.detail}" if t else "One upload failed.")
        elif failed:
            parts.append(f"{len(failed)} uploads failed.")
        self.last_text = " ".join(parts)
        if self.tray is not None and self.tray.isVisible():
            icon = QSystemTrayIcon.MessageIcon.Warning if failed else \
                QSystemTrayIcon.MessageIcon.Information
            self.tray.showMessage("mpugui", self.last_text, icon, 8000)
        else:
            self.status_bar.showMessage(self.last_text, 10000)
