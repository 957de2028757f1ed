"""The one way the app runs S3 calls other than part uploads off the GUI
thread: listing buckets, testing a connection, listing in-progress uploads.

It has its own thread pool, so such calls never wait behind part uploads.
Results come back as signals, delivered on the thread that owns the runner
(the GUI thread), so callbacks may touch widgets.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("mpugui.tasks")


class _Relay(QObject):
    done = Signal(int, object)
    failed = Signal(int, object)


class _Task(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay,
                 cancelled: threading.Event) -> None:
        super().__init__()
        self._id, self._fn, self._relay, self._cancelled = task_id, fn, relay, cancelled

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # reported to the caller, never lost
            if not self._cancelled.is_set():
                self._relay.failed.emit(self._id, exc)
            return
        if not self._cancelled.is_set():
            self._relay.done.emit(self._id, result)


class TaskRunner(QObject):
    """Runs callables on a small pool and calls back on the owner's thread."""

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None,
                                         Callable[[BaseException], None] | None]] = {}
        self._cancel = threading.Event()

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None) -> int:
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_done, on_error)
        self.pool.start(_Task(task_id, fn, self._relay, self._cancel))
        return task_id

    def forget(self, task_id: int) -> None:
        """Drop a pending task's callbacks (the widget that asked is gone)."""
        self._callbacks.pop(task_id, None)

    def _on_done(self, task_id: int, result: Any) -> None:
        on_done, _ = self._callbacks.pop(task_id, (None, None))
        if on_done is not None:
            on_done(result)

    def _on_failed(self, task_id: int, exc: BaseException) -> None:
        _, on_error = self._callbacks.pop(task_id, (None, None))
        log.warning("Background task failed: %s", exc, exc_info=exc)
        if on_error is not None:
            on_error(exc)

    def shutdown(self, wait_ms: int = 30000) -> bool:
        """Stop delivering callbacks and wait for running tasks to end; False
        when some still run after `wait_ms` (a call the network holds)."""
        self._cancel.set()
        self._callbacks.clear()
        self.pool.clear()
        return bool(self.pool.waitForDone(wait_ms))
