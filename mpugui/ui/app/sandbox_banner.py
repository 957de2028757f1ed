"""The sandbox banner above the queue. The window opens before the sandbox's
server answers (moto takes seconds to import): the banner says "starting the
sandbox…" until then, and `ready` is emitted once, when it answers.

It also lets a new user see resume within one run: "Simulate network loss"
takes the sandbox's server off the network (the transfers wait, keeping
their finished parts) and "Restore network" brings it back (they carry on;
`network_back` lets the window retry the waiting ones at once rather than
after the probe's backoff). Chosen over a quit-less restart of the engine:
it shows the same thing (nothing finished is sent again) through the path
a real outage takes, with one button and no second window state.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from mpugui.ui.common import icons
from mpugui.ui.common.palette import is_dark

LOSE, RESTORE = "Simulate network loss", "Restore network"
NARROW = 1000  # logical px: below, the how-to goes to the tooltip


class SandboxBanner(QFrame):
    ready = Signal()
    network_back = Signal()  # the simulated network loss is over

    def __init__(self, sandbox: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.sandbox = sandbox
        self._texts: tuple[str, str] | None = None  # (what it is, how to see resume)
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
        self.network = QPushButton(LOSE)
        self.network.setObjectName("sandboxNetwork")
        self.network.setToolTip("Take the sandbox's server off the network, as a lost link "
                                "would, to watch the uploads wait and then resume")
        self.network.clicked.connect(self._toggle_network)
        self.network.hide()  # until the server answers
        row.addWidget(self.network)
        self._switching: threading.Thread | None = None  # the server going off or on
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
        if self._switching is not None:
            if self._switching.is_alive():
                return
            self._switching = None
            self._poll.stop()
            self._show_ready()
            if not self.sandbox.offline:
                self.network_back.emit()
            return
        if self.sandbox.ready.is_set():
            self._poll.stop()
            self._show_ready()
            if not self.sandbox.error:
                self.ready.emit()

    def _show_ready(self) -> None:
        box = self.sandbox
        if getattr(box, "error", None):
            self._texts = None
            self.text.setToolTip("")
            self.text.setText(f"<b>Sandbox</b> — {box.error}")
            return
        can_switch = hasattr(box, "set_offline") and box.server is not None
        self.network.setVisible(can_switch)
        self.network.setEnabled(True)
        if can_switch and box.offline:
            self._texts = None
            self.text.setToolTip("")
            self.network.setText(RESTORE)
            self.text.setText(
                "<b>Sandbox</b> — the network is lost (simulated): the uploads wait, "
                f"keeping their finished parts. Press “{RESTORE}” to see them carry on "
                "from there.")
            return
        self.network.setText(LOSE)
        self._texts = (
            f"<b>Sandbox</b> — a local test S3 server at {box.endpoint_url}, "
            f"bucket “{box.bucket}”. Nothing leaves this computer, and it is all "
            "gone when mpugui quits.",
            "To see resume, upload a big file (the status bar’s Limit slows it "
            f"down), then press “{LOSE}”, or Pause and Resume it: finished "
            "parts are never sent again." if can_switch else "")
        self._fit_text()

    def _fit_text(self) -> None:
        """The whole text where there is room; on a narrow window (scale 2
        on 1366x768: five lines, a quarter of the height) the how-to goes to
        the tooltip."""
        if self._texts is None:
            return
        main, hint = self._texts
        narrow = self.width() < NARROW
        self.text.setText(main if narrow or not hint else f"{main} {hint}")
        self.text.setToolTip(hint if narrow else "")

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_text()

    def _toggle_network(self) -> None:
        """Off or on the network, on a thread: stopping moto's server waits
        for its accept loop (up to half a second), too long for the GUI thread."""
        if self._switching is not None:
            return
        self.network.setEnabled(False)
        self._switching = threading.Thread(
            target=self.sandbox.set_offline, args=(not self.sandbox.offline,),
            name="mpugui-sandbox-network", daemon=True)
        self._switching.start()
        self._poll.start()

    def stop(self) -> None:
        self._poll.stop()
        if self._switching is not None:
            self._switching.join()  # before the sandbox itself stops
