"""What every part of the engine shares: its signals, its state (the queue,
the scheduler, what the next tick publishes, the outages) and the one state
transition, `_move`.

The engine is one QObject built in layers, each a module of one concept:
base (this) < failures (the retry policy and outages) < jobs (worker
threads and the job steps) < ticks (the published snapshots) < engine (the
API). Each layer may call what the layers below it define."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from mpugui.core.journal.store import (
    Journal,
)
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.s3.putloop import PutLoop
from mpugui.core.states import (
    ACTIVE_STATES,
    ASSEMBLING,
    CANCELLED,
    DONE,
    FAILED,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    WAITING,
)
from mpugui.core.transfer import outage
from mpugui.core.transfer.adaptive import AdaptiveConcurrency
from mpugui.core.transfer.bandwidth import RateLimiter
from mpugui.core.transfer.body import (
    BufferPool,
)
from mpugui.core.transfer.progress import Transfer
from mpugui.core.transfer.scheduler import (
    Scheduler,
)
from mpugui.core.transfer.snapshot import (
    StateEvent,
    TransferSnapshot,
)
from mpugui.engine.settings import EngineSettings

log = logging.getLogger("mpugui.engine")

# Which state may follow which; anything else is a race the transition refuses.
# Which state may follow which; anything else is a race the transition refuses.
_NEXT: dict[str, frozenset[str]] = {
    QUEUED: frozenset({UPLOADING, PAUSED, FAILED, CANCELLED, DONE, WAITING}),
    UPLOADING: frozenset({PAUSED, FAILED, ASSEMBLING, DONE, CANCELLED, QUEUED, WAITING}),
    ASSEMBLING: frozenset({VERIFYING, UPLOADING, FAILED, DONE, CANCELLED, WAITING}),
    VERIFYING: frozenset({DONE, FAILED, UPLOADING, WAITING}),
    WAITING: frozenset({QUEUED, UPLOADING, PAUSED, FAILED, CANCELLED, DONE}),
    PAUSED: frozenset({QUEUED, CANCELLED, FAILED, DONE}),
    FAILED: frozenset({QUEUED, CANCELLED, DONE}),
    CANCELLED: frozenset({QUEUED}),
    DONE: frozenset(),
}
_RUNNING = frozenset({QUEUED, WAITING, *ACTIVE_STATES})


class EngineBase(QObject):
    snapshot = Signal(object)  # EngineSnapshot, once per tick while anything changes
    state_changed = Signal(int, str)  # transfer id, new state: once per change, in order
    message = Signal(str, str)  # level name, sentence
    idle = Signal()  # nothing queued or running any more
    _threads_wanted = Signal()  # from any thread: start workers on the engine's thread
    # From any thread: the last running transfer has ended; tick now (queued)
    # rather than at the next tick, so `idle` follows within a millisecond.
    _drained = Signal()
    # From the worker that finished a cancel's abort: the queue is changed
    # (remove, then add anew) on the engine's thread only.
    _restart_wanted = Signal(object)

    # Built by TransferEngine.__init__ (engine.py); every layer uses them.
    journal: Journal
    settings: EngineSettings
    clients: ClientFactory
    limiter: RateLimiter
    _adaptive: AdaptiveConcurrency | None
    _sched: Scheduler
    _lock: threading.Condition
    _threads: list[QThread]
    _putloop: PutLoop
    _buffers: BufferPool
    _read_lanes: threading.BoundedSemaphore
    _by_id: dict[int, Transfer]  # in queue order
    _maybe_created: set[int]  # restored; Create may have been sent
    _live: dict[str, int]  # transfers per state, as of now
    # What the next tick publishes (engine lock held to change these):
    _dirty: dict[Transfer, None]  # changed since their last snapshot, in order
    _on_change: Callable[[Transfer], None]  # one bound method for every transfer to hold
    _sending: set[Transfer]  # bytes moving: snapshotted every tick
    _removed: list[int]
    _events: list[StateEvent]
    _changed: dict[int, TransferSnapshot]
    # What has been published:
    _table: dict[int, TransferSnapshot]
    _seq: int
    _put_sent: int  # bytes the put loop sent itself (part bodies count in the limiter)
    _was_busy: bool
    # Endpoints that do not answer, the transfers waiting on them, the probe.
    _outages: outage.Outages[Transfer]
    _answered: set[Any]  # endpoints that answered a request in this run
    _last_answered: Any
    _probe_wake: threading.Event
    _prober: threading.Thread | None
    _sleep_watch: outage.SleepWatch
    _outage_published: float

    # -- the one state transition (engine lock held) ----------------------------------

    def _move(self, t: Transfer, state: str, detail: str = "",
              only_from: Iterable[str] | None = None, **journal: object) -> bool:
        """Change `t`'s state if the event fits its current one: journal the
        change (grouped commit) and record the event. False when it does not
        fit (a pause won the race with a finishing worker, say)."""
        old = t.state
        if only_from is not None and old not in only_from:
            return False
        if state == old and not journal and detail == t.detail:
            return True
        if state != old and state not in _NEXT[old]:
            log.debug("Refused %s -> %s for %s", old, state, t.rec.uri)
            return False
        if old == WAITING and state != WAITING:
            self._outages.leave(t.rec.endpoint, t.id)
        # A failed transfer failing anew (its cancel's abort, say) is news too.
        news = state != old or (state == FAILED and detail != t.detail)
        t.set_state(state, detail)
        live = self._live
        live[old] -= 1
        live[state] += 1
        if old in _RUNNING and state not in _RUNNING and not any(live[s] for s in _RUNNING):
            self._drained.emit()
        if state in (FAILED, PAUSED) or state != old:
            journal.setdefault("error", detail or None)
        self.journal.update(t.id, False, state=state, **journal)  # wait=False: grouped
        if news:
            self._events.append(StateEvent(t.id, state, detail))
        return True

    def _mark_dirty(self, t: Transfer) -> None:
        self._dirty[t] = None

    def _busy(self) -> bool:
        live = self._live
        return self._sched.has_work() or any(live[s] for s in _RUNNING)

    def _client(self, t: Transfer) -> Any:
        endpoint = t.rec.endpoint
        if t.algo.s3_name is None:
            # md5 or none: keep botocore from adding (and reading the body for)
            # its default CRC32 on top.
            endpoint = endpoint.with_(checksum_when_required=True)
        return self.clients.client(endpoint)

    def _settle(self, t: Transfer) -> None:
        with self._lock:
            if t.inflight == 0 and t.state in (PAUSED, FAILED) and not t.cancelling:
                t.close_file()
            elif t.inflight == 0 and not t.plan.multipart and t.state == QUEUED:
                # Resumed from waiting while its failed job was still ending:
                # the scheduler dropped the offer then (job_done re-offers
                # multipart transfers only).
                self._sched.offer(t)
            t.changed()
