"""The engine's user actions on a selection (engine thread): pause, resume,
cancel, remove, and any of them over 100,000 rows a slice at a time.

Each costs the transfers it names: one lock, one transition (`_move`, whose
journal writes are grouped commits off this thread) per transfer. A layer of
TransferEngine (engine.py): base < failures < jobs < ticks < actions < engine.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QTimer

from mpugui.core.states import CANCELLED, FAILED, FINAL_STATES, PAUSED, QUEUED, UPLOADING, WAITING
from mpugui.core.transfer.body import Flag
from mpugui.core.transfer.progress import Transfer
from mpugui.core.transfer.snapshot import REMOVED, StateEvent
from mpugui.engine.base import _RUNNING
from mpugui.engine.ticks import Ticks

BULK_SLICE = 500  # transfers per event-loop turn of a bulk action (in_slices)


class Actions(Ticks):
    # Bulk actions still being applied, and the timer that applies a slice a turn.
    _bulk: collections.deque[tuple[Any, list[int], Callable[[], None] | None]]
    _bulk_timer: QTimer

    def in_slices(self, action: str, ids: Iterable[int], then: Callable[[], None] | None = None,
                  **options: Any) -> None:
        """Run pause/resume/cancel/remove on `ids` a slice at a time over the
        next event-loop turns (the window's Pause all on 100,000 rows, a
        forwarded `resume --all`: each turn costs ~BULK_SLICE transfers, the
        journal takes it in grouped commits off this thread). `options` go to
        each call (cancel's restart); `then` runs after the last slice."""
        fn = getattr(self, action)
        if options:
            fn = functools.partial(fn, **options)
        self._bulk.append((fn, list(ids), then))
        self._bulk_timer.start()

    def _bulk_step(self) -> None:
        fn, ids, then = self._bulk[0]
        fn(ids[:BULK_SLICE])
        del ids[:BULK_SLICE]
        if not ids:
            self._bulk.popleft()
            if then is not None:
                then()
        if not self._bulk:
            self._bulk_timer.stop()

    def pause(self, ids: Iterable[int]) -> None:
        with self._lock:
            for t in self._pick(ids):
                if t.state not in (QUEUED, UPLOADING, WAITING) or t.cancelling:
                    continue
                t.cancel.set()
                t.prepared = False
                self._move(t, PAUSED)
                if not t.inflight:
                    t.close_file()

    def resume(self, ids: Iterable[int]) -> None:
        """Resume paused or failed transfers from their finished parts."""
        with self._lock:
            for t in self._pick(ids):
                if t.state == WAITING:  # "Retry now": probe its endpoint at once
                    if self._outages.probe_now(t.rec.endpoint):
                        self._probe_wake.set()
                    continue
                if t.state not in (PAUSED, FAILED) or t.cancelling or t.aborting:
                    continue
                t.cancel = Flag()
                t.prepared = False
                t.complete_failures = 0
                for part in t.parts:
                    part.failures, part.error = 0, None
                t.reset_pending()
                t.rec.error = None
                self._move(t, QUEUED)
                self._sched.offer(t)
            self._was_busy = True
        self._threads_wanted.emit()

    def cancel(self, ids: Iterable[int], restart: bool = False) -> None:
        """Stop and abort the upload on the server, leaving no part behind.
        With restart, the file is queued again from scratch afterwards."""
        finished = []
        with self._lock:
            for t in self._pick(ids):
                if t.state in FINAL_STATES or t.cancelling or t.aborting:
                    continue
                t.cancel.set()
                t.restart_after_abort = restart
                if t.rec.upload_id is None and t.inflight == 0:
                    finished.append(t)
                else:
                    t.cancelling = True
                    t.changed()
                    if t.inflight == 0:
                        self._sched.abort(t)
            self._was_busy = True
        self._cancelled_many(finished)
        self._threads_wanted.emit()

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Forget finished, cancelled, paused or failed transfers. A paused or
        failed upload stays on the server (the uploads browser finds it)."""
        removed = []
        with self._lock:
            for t in self._pick(ids):
                # A cancelled transfer's only job in flight can be the abort job
                # that is finishing it (cancel with restart removes it from there).
                busy = t.inflight and t.state != CANCELLED
                if t.state in _RUNNING or busy or t.cancelling or t.aborting:
                    continue
                del self._by_id[t.id]
                self._live[t.state] -= 1
                self._dirty.pop(t, None)
                self._sending.discard(t)
                self._removed.append(t.id)
                self._events.append(StateEvent(t.id, REMOVED, ""))
                t.close_file()
                removed.append(t.id)
        self.journal.remove_many(removed)
        return removed

    def remove_finished(self) -> list[int]:
        with self._lock:
            ids = [i for i, t in self._by_id.items() if t.state in FINAL_STATES]
        return self.remove(ids)

    def pause_all(self) -> None:
        self.pause(self._ids())

    def resume_all(self) -> None:
        self.resume(self._ids())

    def _ids(self) -> list[int]:
        with self._lock:
            return list(self._by_id)

    def _pick(self, ids: Iterable[int]) -> list[Transfer]:
        by_id = self._by_id
        return [by_id[i] for i in ids if i in by_id]
