"""The one message bridge: everything the user should hear about goes
through here, from any thread — log records, the engine's sentences and
uncaught exceptions. The bridge keeps a ring buffer (the log dock shows it)
and raises alerts, which the window shows as a sentence with expandable
details. A traceback goes to the log file, never into a dialog.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from mpugui.core.errors import MpuguiError, describe

log = logging.getLogger("mpugui.ui")

LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Message:
    time: float
    level: str  # one of LEVELS
    sentence: str
    details: str = ""
    source: str = ""


class MessageBridge(QObject):
    """Thread-safe: post() may be called from any thread; receivers in the
    GUI thread get the signal queued."""

    posted = Signal(object)  # Message, for the log view
    alert = Signal(object)  # Message the user must see now (uncaught errors)

    def __init__(self, capacity: int = 5000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: collections.deque[Message] = collections.deque(maxlen=capacity)

    def post(self, level: str, sentence: str, details: str = "", source: str = "") -> Message:
        level = level.lower() if level.lower() in LEVELS else "info"
        msg = Message(time.time(), level, sentence, details, source)
        self.history.append(msg)  # deque.append is atomic
        self.posted.emit(msg)
        return msg

    def report(self, exc: BaseException, context: str = "") -> Message:
        """An unexpected exception: log it in full, tell the user a sentence."""
        sentence = describe(exc)
        if context:
            sentence = f"{context}: {sentence}"
        log.error("%s", sentence, exc_info=(type(exc), exc, exc.__traceback__))
        msg = Message(time.time(), "error", sentence, short_details(exc), "exception")
        self.history.append(msg)
        self.posted.emit(msg)
        self.alert.emit(msg)
        return msg

    def connect_engine(self, engine: QObject) -> None:
        engine.message.connect(  # type: ignore[attr-defined]
            lambda level, sentence: self.post(level, sentence, source="engine"))


def short_details(exc: BaseException) -> str:
    """What a curious user (or a bug report) needs, without a stack dump:
    the exception type and message, and where it was raised."""
    lines = [f"{type(exc).__name__}: {exc}"]
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if tb:
        last = tb[-1]
        lines.append(f"Raised in {last.name}() at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}")
    lines.append("The full report is in the log file.")
    return "\n".join(lines)


class BridgeHandler(logging.Handler):
    """Feeds log records into the bridge (and so the log dock).

    The engine says what matters to the user through its `message` signal;
    its own log lines below ERROR would only repeat that, so they stay in the
    log file."""

    def __init__(self, bridge: MessageBridge, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("mpugui.engine") and record.levelno < logging.ERROR:
            return
        if getattr(record, "bridged", False):
            return  # the caller posted it to the bridge itself
        try:
            sentence = record.getMessage()
        except Exception:
            sentence = str(record.msg)
        details = ""
        if record.exc_info and record.exc_info[1] is not None:
            details = short_details(record.exc_info[1])
        try:
            self.bridge.post(record.levelname, sentence, details, record.name)
        except RuntimeError:
            pass  # the bridge is gone (interpreter shutting down)


_installed: dict[str, object] = {}


def install_excepthooks(bridge: MessageBridge) -> None:
    """Route uncaught exceptions (GUI thread and any other thread) to the
    bridge instead of stderr tracebacks."""
    if not _installed:
        _installed["sys"] = sys.excepthook
        _installed["threading"] = threading.excepthook

    def sys_hook(etype: type[BaseException], value: BaseException,
                 tb: TracebackType | None) -> None:
        if issubclass(etype, KeyboardInterrupt):
            _installed["sys"](etype, value, tb)  # type: ignore[operator]
            return
        if value.__traceback__ is None:
            value = value.with_traceback(tb)
        bridge.report(value)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or isinstance(args.exc_value, SystemExit):
            return
        name = args.thread.name if args.thread else "a background thread"
        bridge.report(args.exc_value, context=f"In {name}")

    sys.excepthook = sys_hook
    threading.excepthook = thread_hook


def uninstall_excepthooks() -> None:
    if _installed:
        sys.excepthook = _installed.pop("sys")  # type: ignore[assignment]
        threading.excepthook = _installed.pop("threading")  # type: ignore[assignment]


class AlertPresenter(QObject):
    """Shows alerts as a non-modal message box: the sentence, with the
    details behind "Show Details…". One box at a time; alerts arriving while
    it is open are only logged, so a burst never stacks up dialogs."""

    def __init__(self, bridge: MessageBridge, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.box: QMessageBox | None = None
        bridge.alert.connect(self.show_alert)

    def show_alert(self, msg: Message) -> None:
        if self.box is not None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "mpugui", msg.sentence,
                          QMessageBox.StandardButton.Close, self._parent)
        box.setInformativeText("The details are also in the log.")
        if msg.details:
            box.setDetailedText(msg.details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.finished.connect(self._closed)
        box.open()
        self.box = box

    def _closed(self) -> None:
        self.box = None


def user_error(exc: BaseException) -> str:
    """The sentence for an expected failure (MpuguiError) or any other."""
    return str(exc) if isinstance(exc, MpuguiError) else describe(exc)
