"""The sandbox banner above the queue. The window opens before the sandbox's
server answers (moto takes seconds to import): the banner says "starting the
sandbox…" until then, and `ready` is emitted once, when it answers."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel

from mpugui.ui import icons
from mpugui.ui.progress_delegate import is_dark


class SandboxBanner(QFrame):
    ready = Signal()

    def __init__(self, sandbox: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.sandbox = sandbox
        self.setObjectName("sandboxBanner")
        dark = is_dark(self.palette())
        bg, fg, border = ("#3b2e0a", "#f2cc60", "#6b5310") if dark else \
            ("#fff4d6", "#5c4300", "#e6c35c")
        self.setStyleSheet(
            f"#sandboxBanner {{ background: {bg}; border-bottom: 1px solid {border}; }}"
            f"#sandboxBanner QLabel {{ color: {fg}; }}")
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 6)
        icon = QLabel()
        icon.setPixmap(icons.icon("sandbox", fg).pixmap(18, 18))
        self.text = QLabel()
        self.text.setWordWrap(True)
        row.addWidget(icon)
        row.addWidget(self.text, 1)
        # The server is started on a plain thread: its Event is looked at
        # a few times a second until it is set, then never again.
        self._poll = QTimer(self)
        self._poll.setObjectName("mpugui-sandbox-poll")
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._check)
        ready = getattr(sandbox, "ready", None)
        if ready is not None and not ready.is_set():
            self.text.setText(f"<b>Sandbox</b> — starting the sandbox… (a local test S3 "
                              f"server at {sandbox.endpoint_url}; this takes a few seconds)")
            self._poll.start()
        else:
            self._show_ready()

    @property
    def is_ready(self) -> bool:
        ready = getattr(self.sandbox, "ready", None)
        return ready is None or (ready.is_set() and not self.sandbox.error)

    def _check(self) -> None:
        if self.sandbox.ready.is_set():
            self._poll.stop()
            self._show_ready()
            if not self.sandbox.error:
                self.ready.emit()

    def _show_ready(self) -> None:
        box = self.sandbox
        if getattr(box, "error", None):
            self.text.setText(f"<b>Sandbox</b> — {box.error}")
            return
        self.text.setText(
            f"<b>Sandbox</b> — a local test S3 server at {box.endpoint_url}, "
            f"bucket “{box.bucket}”. Nothing leaves this computer, and it is all "
            "gone when mpugui quits.")

    def stop(self) -> None:
        self._poll.stop()
