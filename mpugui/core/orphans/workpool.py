"""A fixed set of threads fed from one priority queue, stoppable.

Why not ThreadPoolExecutor: the scan queues one task per bucket up front and
then one per upload to size; first-in-first-out would list all 500 buckets
before sizing any upload, so no bucket would finish (and show its total)
until the end. Here a bucket's sizing tasks run before the next bucket
starts. `stop()` drops what is queued and `join()` returns only when every
thread has ended: a stopped scan leaves no thread behind.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("mpugui.orphans")

_STOP = object()


class WorkPool:
    def __init__(self, threads: int, name: str = "orphans-scan") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, object]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._stopped = threading.Event()
        self._pending = 0  # queued or running tasks
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, threads))]
        for t in self._threads:
            t.start()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def submit(self, fn: Callable[[], None], priority: int = 0) -> None:
        """Lower priority numbers run first; ties run in submission order."""
        if self._stopped.is_set():
            return
        with self._lock:
            self._pending += 1
        self._queue.put((priority, next(self._seq), fn))

    def wait_idle(self) -> None:
        """Until every submitted task (and what they submitted) has run, or
        the pool was stopped."""
        with self._idle:
            while self._pending and not self._stopped.is_set():
                self._idle.wait(0.5)

    def stop(self) -> None:
        """Drop queued tasks; running ones finish their current call."""
        self._stopped.set()
        with self._idle:
            self._idle.notify_all()

    def join(self) -> None:
        self.stop()
        for _ in self._threads:
            self._queue.put((-1, next(self._seq), _STOP))
        for t in self._threads:
            t.join()

    def _work(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is _STOP:
                return
            try:
                if not self._stopped.is_set():
                    item()  # type: ignore[operator]
            except Exception:  # a task reports its own failures; this is a bug
                log.exception("Scan task failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()
