"""The transfer engine: a QObject that owns the queue, hands big files' jobs
to worker QThreads and small files to one put loop (core/s3/putloop.py, with
engine/small_files.py), and publishes one progress snapshot per tick.

Every event costs what changed, not what exists: work waits in the
scheduler's ready heaps (nothing is searched), a state change goes through
one transition (`_move`) that journals it (grouped commits) and records an
event, and the tick snapshots only the transfers that changed or are
sending, at most REFRESH_LIMIT of them per tick so a 100,000-file restore
never freezes the window. Workers never emit per-chunk signals: they bump
counters that the tick reads; state changes reach the consumers as the
tick's events, in the order they happened.
"""

from __future__ import annotations

import collections
import functools
import itertools
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from botocore.exceptions import ClientError
from PySide6.QtCore import SIGNAL, QObject, QThread, QTimer, Signal

from mpugui.core.errors import (
    TLS_AGAIN,
    Interrupted,
    MpuguiError,
    SourceChanged,
    describe,
    error_code,
    is_tls_failure,
    is_transient,
    is_unreachable,
)
from mpugui.core.journal.store import Journal, PartRecord, TransferRecord
from mpugui.core.s3.checksums import DEFAULT_ALGORITHM, algorithm, default_for
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.s3.plan import DEFAULT_PART_SIZE, DEFAULT_THRESHOLD, TAPER_V1, make_plan
from mpugui.core.s3.putloop import PutLoop
from mpugui.core.sources import (
    Identity,
    check_unchanged,
    describe_change,
    guess_type,
    identity,
    identity_of,
)
from mpugui.core.states import (
    ACTIVE_STATES,
    ASSEMBLING,
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    WAITING,
    PartState,
)
from mpugui.core.transfer import multipart as s3
from mpugui.core.transfer import outage, recovery
from mpugui.core.transfer.adaptive import MAXIMUM, MEMORY_BUDGET, AdaptiveConcurrency, Inputs
from mpugui.core.transfer.bandwidth import RateLimiter
from mpugui.core.transfer.body import (
    BufferPool,
    Flag,
    PartBody,
    PartBuffer,
    limit_malloc_arenas,
    read_range,
)
from mpugui.core.transfer.progress import Transfer, now
from mpugui.core.transfer.request import UploadRequest
from mpugui.core.transfer.scheduler import (
    ABORT,
    COMPLETE,
    PART,
    PREPARE,
    PUT,
    PUT_LIMIT,
    Job,
    Scheduler,
)
from mpugui.core.transfer.snapshot import (
    REMOVED,
    EngineSnapshot,
    OutageSnapshot,
    StateEvent,
    TransferSnapshot,
)
from mpugui.core.transfer.verify import Verdict
from mpugui.core.units import format_duration
from mpugui.engine.small_files import SmallFiles

log = logging.getLogger("mpugui.engine")

DEFAULT_CONCURRENCY = 0  # 0: found while running (core/transfer/adaptive.py); a number pins it
# Transfers snapshotted per tick at most: 100,000 restored or added at once
# reach the window over many short ticks instead of one long stall.
REFRESH_LIMIT = 500
BULK_SLICE = 500  # transfers per event-loop turn of a bulk action (in_slices)
SAY_EACH_UP_TO = 20  # failures said one by one in the log; beyond, one sentence

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
OUTAGE_PUBLISH = 1.0  # seconds between snapshots that only move a waiting countdown
PROBER_JOIN = 1.0  # seconds shutdown waits for the probe thread
RESUME_SLICE = 1000  # waiting transfers resumed per tick when their endpoint answers


def default_read_lanes() -> int:
    """Parts read and checksummed at the same time: all cores but one. Reading
    a 16 MiB part (page faults, copy) and its CRC are CPU work without the GIL;
    sixteen parts starting together took both cores of a 2-core machine and
    held the GUI thread off for up to ~250 ms. One core stays for the event
    loop and the network stack; the sends themselves are not limited."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class EngineSettings:
    part_size: int = DEFAULT_PART_SIZE
    threshold: int = DEFAULT_THRESHOLD
    concurrency: int = DEFAULT_CONCURRENCY
    max_concurrency: int = MAXIMUM  # adaptive concurrency's ceiling (a user maximum)
    memory_budget: int = MEMORY_BUDGET  # adaptive: part buffers in flight at most, bytes
    put_concurrency: int = PUT_LIMIT  # small files (one PutObject each) in flight at once
    checksum: str = DEFAULT_ALGORITHM
    bandwidth_limit: int = 0  # bytes/s, 0 = unlimited
    part_retries: int = 3  # our retries of a part after botocore's own
    retry_base: float = 1.0  # seconds; doubled per failure, with jitter
    tick_ms: int = 100
    # Outages (core/transfer/outage.py): the first probe's delay, doubled per
    # failed probe up to the cap; max_wait None waits for the network forever.
    probe_first: float = outage.FIRST_DELAY
    probe_cap: float = outage.MAX_DELAY
    max_wait: float | None = None
    read_lanes: int = field(default_factory=default_read_lanes)


@dataclass
class _Totals:
    """Sums over the published snapshots, kept as snapshots replace each other."""

    counts: dict[str, int] = field(default_factory=dict)
    total_bytes: int = 0
    done_bytes: int = 0
    retries: int = 0
    wire_bytes: int = 0
    speed: float = 0.0

    def apply(self, old: TransferSnapshot | None, new: TransferSnapshot) -> None:
        counts = self.counts
        if old is None:
            self.total_bytes += new.size
        else:
            counts[old.state] -= 1
            self.done_bytes -= old.done_bytes
            self.retries -= old.retries
            self.wire_bytes -= old.wire_bytes
            self.speed -= old.speed
        counts[new.state] = counts.get(new.state, 0) + 1
        self.done_bytes += new.done_bytes
        self.retries += new.retries
        self.wire_bytes += new.wire_bytes
        self.speed += new.speed

    def forget(self, old: TransferSnapshot | None) -> None:
        if old is not None:
            self.counts[old.state] -= 1
            self.total_bytes -= old.size
            self.done_bytes -= old.done_bytes
            self.retries -= old.retries
            self.wire_bytes -= old.wire_bytes
            self.speed -= old.speed


class _WorkerThread(QThread):
    """A thread that runs the engine's worker loop; no logic of its own."""

    def __init__(self, engine: TransferEngine, index: int) -> None:
        super().__init__()
        self.setObjectName(f"mpugui-part-worker-{index}")
        self._engine = engine

    def run(self) -> None:
        self._engine._worker_loop()


class TransferEngine(QObject):
    snapshot = Signal(object)  # EngineSnapshot, once per tick while anything changes
    state_changed = Signal(int, str)  # transfer id, new state: once per change, in order
    message = Signal(str, str)  # level name, sentence
    idle = Signal()  # nothing queued or running any more
    _threads_wanted = Signal()  # from any thread: start workers on the engine's thread
    # From the worker that finished a cancel's abort: the queue is changed
    # (remove, then add anew) on the engine's thread only.
    _restart_wanted = Signal(object)

    def __init__(self, journal: Journal, clients: ClientFactory | None = None,
                 settings: EngineSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.journal = journal
        self.settings = settings or EngineSettings()
        self.clients = clients or ClientFactory(self.settings.concurrency + 4)
        self.limiter = RateLimiter(self.settings.bandwidth_limit)
        self._adaptive: AdaptiveConcurrency | None = None
        if not self.settings.concurrency:
            self._adaptive = AdaptiveConcurrency(self.settings.max_concurrency,
                                                 self.settings.memory_budget)
        self._sched = Scheduler(self._adaptive.level if self._adaptive is not None
                                else self.settings.concurrency,
                                put_limit=max(1, self.settings.put_concurrency))
        self._lock = self._sched.lock
        self._threads: list[_WorkerThread] = []
        # Small files: one thread, many requests in flight (core/s3/putloop.py).
        self._putloop = PutLoop(SmallFiles(self), self._sched.put_limit,
                                read_timeout=self.clients.read_timeout)
        self._sched.puts_ready = self._putloop.wake
        self._buffers = BufferPool()  # part buffers: memory follows the parts in flight
        self._read_lanes = threading.BoundedSemaphore(max(1, self.settings.read_lanes))
        limit_malloc_arenas()  # before the workers start: see body.py
        self._by_id: dict[int, Transfer] = {}  # in queue order
        self._maybe_created: set[int] = set()  # restored; Create may have been sent
        self._live: dict[str, int] = dict.fromkeys(_NEXT, 0)  # transfers per state, as of now
        # What the next tick publishes (engine lock held to change these):
        self._dirty: dict[Transfer, None] = {}  # changed since their last snapshot, in order
        self._on_change = self._mark_dirty  # one bound method for every transfer to hold
        self._sending: set[Transfer] = set()  # bytes moving: snapshotted every tick
        self._removed: list[int] = []
        self._events: list[StateEvent] = []
        self._changed: dict[int, TransferSnapshot] = {}
        # What has been published:
        self._table: dict[int, TransferSnapshot] = {}
        self._totals = _Totals()
        self._seq = 0
        self._was_busy = False
        # Endpoints that do not answer and the transfers waiting on them; one
        # probe thread for all of them, started at the first outage.
        self._outages: outage.Outages[Transfer] = outage.Outages(
            self.settings.probe_first, self.settings.probe_cap, self.settings.max_wait)
        # botocore stops retrying a request to an endpoint known down (the
        # probe decides when it is sent again): core/s3/endpoint.py RetryGate.
        self.clients.is_down = self._outages.is_down
        # Endpoints that answered a request in this run: a TLS failure from
        # one of them waits (a login page in the way) rather than fails.
        self._answered: set[Any] = set()
        self._last_answered: Any = None
        self._probe_wake = threading.Event()
        self._prober: threading.Thread | None = None
        self._sleep_watch = outage.SleepWatch()
        self._outage_published = 0.0
        self._threads_wanted.connect(self._ensure_threads)
        self._restart_wanted.connect(self.restart)
        self._bulk: collections.deque[tuple[Any, list[int], Any]] = collections.deque()
        self._bulk_timer = QTimer(self)
        self._bulk_timer.setObjectName("mpugui-engine-bulk")
        self._bulk_timer.setInterval(0)
        self._bulk_timer.timeout.connect(self._bulk_step)
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-engine-tick")
        self._timer.setInterval(self.settings.tick_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # -- queue (any thread) -------------------------------------------------------

    def add(self, req: UploadRequest) -> int:
        """Plan and journal one file; raises MpuguiError with a sentence."""
        ids, problems = self.add_many([req])
        if problems:
            raise MpuguiError(problems[0][1])
        return ids[0]

    def add_many(self, requests: Sequence[UploadRequest], paused: bool = False
                 ) -> tuple[list[int], list[tuple[UploadRequest, str]]]:
        """Plan and journal files in one transaction; returns their ids and,
        for each file that cannot be queued, the request and a sentence.
        Safe from any thread (a folder is added from the thread walking it).
        With `paused` they wait for a resume."""
        records: list[tuple[TransferRecord, Any]] = []
        problems: list[tuple[UploadRequest, str]] = []
        for req in requests:
            try:
                records.append(self._plan(req, PAUSED if paused else QUEUED))
            except (MpuguiError, ValueError) as exc:
                problems.append((req, str(exc)))
            except OSError as exc:
                problems.append((req, describe(exc)))
        ids = self.journal.add_many([rec for rec, _ in records])
        self._insert([Transfer(rec, plan, {}, self._on_change) for rec, plan in records])
        return ids, problems

    def _plan(self, req: UploadRequest, state: str) -> tuple[TransferRecord, Any]:
        size = req.seen[0] if req.seen is not None else None
        if size is None or size >= self.settings.threshold:
            ident = identity(req.source)
        else:
            # One PutObject sends what it reads then and records the sample of
            # that (engine/small_files.py): not opened twice.
            ident = Identity(size, req.seen[1], "")  # type: ignore[index]
        plan = make_plan(ident.size, req.part_size or self.settings.part_size,
                         self.settings.threshold,
                         taper=0 if req.endpoint.needs_equal_parts() else TAPER_V1)
        content_type = req.content_type or guess_type(req.source)
        rec = TransferRecord(
            source=req.source, bucket=req.bucket, key=req.key, endpoint=req.endpoint,
            size=ident.size, mtime_ns=ident.mtime_ns, sample=ident.sample,
            part_size=plan.part_size, multipart=plan.multipart, taper=plan.taper,
            checksum=algorithm(req.checksum or default_for(
                req.endpoint.checksum_compat(), self.settings.checksum)).name,
            storage_class=req.storage_class, content_type=content_type,
            no_overwrite=req.no_overwrite, state=state)
        return rec, plan

    def restore(self, ids: Iterable[int] | None = None, auto_resume: bool = False) -> list[int]:
        """Load transfers from the journal, in a few statements whatever their
        number. Ones that were running when the app stopped or crashed come
        back paused, or queued with auto_resume. Safe from any thread."""
        wanted = None if ids is None else set(ids)
        if not auto_resume:
            self.journal.set_state_where(_RUNNING, PAUSED, wanted)
        records = [r for r in self.journal.transfers()
                   if (wanted is None or r.id in wanted) and r.id not in self._by_id]
        parts = self.journal.all_parts() if any(r.multipart for r in records) else {}
        loaded: list[Transfer] = []
        for rec in records:
            if rec.multipart and rec.upload_id is None and rec.state != QUEUED:
                # Its Create may have reached the server just before a crash
                # (the state is journaled before Create): look for that upload.
                self._maybe_created.add(rec.id)
            if auto_resume and rec.state in _RUNNING:
                rec.state = QUEUED
            loaded.append(Transfer(rec, rec.plan(), parts.get(rec.id, {}), self._on_change))
        if auto_resume:
            self.journal.set_state_where(_RUNNING, QUEUED, wanted)
        for i in range(0, len(loaded), 5000):  # the lock is never held for long
            self._insert(loaded[i:i + 5000], new=False)
        return [t.id for t in loaded]

    def _insert(self, transfers: list[Transfer], new: bool = True) -> None:
        """Into the queue; `new` transfers (not restored ones) say so as an event."""
        if not transfers:
            return
        with self._lock:
            for t in transfers:
                self._by_id[t.id] = t
                self._live[t.state] += 1
                self._dirty[t] = None
                if new:
                    self._events.append(StateEvent(t.id, t.state, t.detail))
                self._sched.offer(t)
            self._was_busy = True
        self._threads_wanted.emit()

    def transfer_ids(self) -> list[int]:
        with self._lock:
            return list(self._by_id)

    def states(self) -> dict[int, str]:
        """Every transfer's live state, in one pass (a forwarded `resume --all`)."""
        with self._lock:
            return {i: t.state for i, t in self._by_id.items()}

    def record(self, transfer_id: int) -> TransferRecord:
        return self._by_id[transfer_id].rec

    def has(self, transfer_id: int) -> bool:
        return transfer_id in self._by_id

    def state_of(self, transfer_id: int) -> str | None:
        """The live state (None once removed); the record keeps the one it was loaded with."""
        t = self._by_id.get(transfer_id)
        return None if t is None else t.state

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
        self._live[old] -= 1
        self._live[state] += 1
        if state in (FAILED, PAUSED) or state != old:
            journal.setdefault("error", detail or None)
        self.journal.update(t.id, False, state=state, **journal)  # wait=False: grouped
        if news:
            self._events.append(StateEvent(t.id, state, detail))
        return True

    def _mark_dirty(self, t: Transfer) -> None:
        self._dirty[t] = None

    # -- user actions (engine thread) ---------------------------------------------

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

    retry = resume

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
        self.pause(self.transfer_ids())

    def resume_all(self) -> None:
        self.resume(self.transfer_ids())

    def set_max_wait(self, seconds: float | None) -> None:
        """Give up on transfers waiting for an endpoint after `seconds` of
        outage (None: wait until it answers). Applies to outages under way."""
        with self._lock:
            self.settings.max_wait = self._outages.max_wait = seconds
        self._probe_wake.set()

    def set_bandwidth_limit(self, rate: int) -> None:
        self.limiter.set_rate(rate)

    def set_concurrency(self, n: int) -> None:
        """Pin the number of parts in flight; 0 lets the engine find it again."""
        self._adaptive = None
        if n <= 0:
            self._adaptive = AdaptiveConcurrency(self.settings.max_concurrency,
                                                 self.settings.memory_budget)
            n = self._adaptive.level
        self._set_limit(n)

    def _set_limit(self, n: int) -> None:
        with self._lock:
            self._sched.limit = max(1, int(n))
        self._ensure_threads()
        self._sched.wake()

    @property
    def concurrency(self) -> int:
        return self._sched.limit

    def busy(self) -> bool:
        with self._lock:
            return self._busy()

    def _busy(self) -> bool:
        live = self._live
        return self._sched.has_work() or any(live[s] for s in _RUNNING)

    def running_count(self) -> int:
        """Transfers queued or on their way (what quitting would interrupt)."""
        with self._lock:
            return sum(self._live[s] for s in _RUNNING)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop every worker. Running transfers keep their journal state, so
        the next start finds them as after a crash and resumes them. With a
        timeout (seconds), a worker still inside a request the network holds
        (a Complete, a part's answer) is left to the end of the process: False
        then. The journal has what resume needs, as after a SIGKILL."""
        self._timer.stop()
        while self._bulk:  # a Pause all still being applied finishes first
            self._bulk_step()
        with self._lock:
            self._sched.stopping = True
            for t in self._by_id.values():
                if t.inflight:
                    t.cancel.set()
            self._lock.notify_all()
        self._probe_wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        loop_stopped = self._putloop.stop(
            3.0 if deadline is None else max(0.0, deadline - time.monotonic()))
        for th in self._threads:
            if deadline is None:
                th.wait()
            else:
                th.wait(max(0, int((deadline - time.monotonic()) * 1000)))
        if self._prober is not None:
            # A probe on the wire may take its whole timeout: not waited for
            # (a daemon thread that touches nothing once stopping is set).
            self._prober.join(PROBER_JOIN if deadline is None else
                              max(0.0, min(PROBER_JOIN, deadline - time.monotonic())))
            self._prober = None
        if not loop_stopped:
            log.warning("Stopped with small files still on the wire; they are sent again at "
                        "the next start")
            return False
        if any(th.isRunning() for th in self._threads):
            # Kept referenced: a QThread object destroyed while it runs aborts.
            log.warning("Stopped with %d request(s) still on the wire; they are resumed "
                        "at the next start", sum(th.isRunning() for th in self._threads))
            return False
        self._threads.clear()
        with self._lock:
            for t in self._by_id.values():
                t.close_file()
        return True

    def _pick(self, ids: Iterable[int]) -> list[Transfer]:
        by_id = self._by_id
        return [by_id[i] for i in ids if i in by_id]

    # -- workers ----------------------------------------------------------------

    def _ensure_threads(self) -> None:
        # one spare for aborts, which skip the limit (small files have their loop)
        want = self._sched.limit + 1
        while len(self._threads) < want and not self._sched.stopping:
            th = _WorkerThread(self, len(self._threads))
            self._threads.append(th)
            th.start()

    def _worker_loop(self) -> None:
        while True:
            job = self._sched.next_job()
            if job is None:
                return
            buffer = self._buffers.take() if job.kind == PART else PartBuffer()
            try:
                if not (self._outages and self._held(job)):
                    self._run(job, buffer)
                    self._note_answered(job.transfer)
                    # (_abort handles its own failures: its return says nothing)
                    if self._outages.watching and job.kind != ABORT:
                        self._reached(job.transfer)
            except BaseException as exc:  # a job never kills its worker
                try:
                    self._job_failed(job, exc)
                except Exception:  # nor does handling its failure
                    log.exception("Handling the failure of a %s job failed", job.kind)
            finally:
                self._sched.job_done(job)
                self._settle(job.transfer)
            if buffer.capacity:
                self._buffers.give(buffer, self._sched.limit, 2 * self.settings.part_size)

    def _run(self, job: Job, buffer: PartBuffer) -> None:
        if job.kind == PREPARE:
            self._prepare(job.transfer)
        elif job.kind == PART:
            assert job.part is not None
            self._send_part(job.transfer, job.part, buffer)
        elif job.kind == COMPLETE:
            self._complete(job.transfer)
        elif job.kind == ABORT:
            self._abort(job.transfer)

    def _client(self, t: Transfer) -> Any:
        endpoint = t.rec.endpoint
        if t.algo.s3_name is None:
            # md5 or none: keep botocore from adding (and reading the body for)
            # its default CRC32 on top.
            endpoint = endpoint.with_(checksum_when_required=True)
        return self.clients.client(endpoint)

    # -- job steps (worker threads) ---------------------------------------------------

    def _prepare(self, t: Transfer) -> None:
        """Create the multipart upload (or reconcile a resumed one with the
        server) so that its parts can go."""
        rec = t.rec
        if t.fd is None:
            t.fd = _open(rec.source, t)
        describe_change(rec.source, t.identity, identity_of(t.fd, rec.source))
        client = self._client(t)
        if rec.upload_id is None:
            if rec.no_overwrite and s3.head_object(client, rec.bucket, rec.key) is not None:
                raise MpuguiError(f"{rec.uri} already exists and the transfer is set "
                                  "not to overwrite it.")
            with self._lock:
                if not self._move(t, UPLOADING, only_from=(QUEUED, UPLOADING)):
                    return  # paused or cancelled meanwhile
            # On disk before Create: after a crash between the server creating
            # the upload and its answer, restore knows to look for it.
            self.journal.flush()
            upload_id, retried = None, 0
            if t.id in self._maybe_created:
                strays = recovery.stray_uploads(self.journal, rec, client)
                upload_id = strays[0] if strays else None
                if upload_id:
                    log.info("Adopted upload %s of %s, created before a crash",
                             upload_id, rec.uri)
            if upload_id is None:
                upload_id, retried = s3.create_upload(client, rec, t.algo)
            self._maybe_created.discard(t.id)
            with self._lock:
                rec.upload_id = upload_id
                self.journal.update(t.id, upload_id=upload_id)
                t.changed()
            # On disk before any part leaves: a crash now leaves no orphan the
            # journal does not know.
            self.journal.flush()
            if retried:
                # An earlier attempt may have created an upload whose answer
                # was lost: abort it, or it stays billed, unseen.
                for stray in recovery.stray_uploads(self.journal, rec, client):
                    log.info("Aborting upload %s of %s left by a retried Create",
                             stray, rec.uri)
                    s3.abort_until_empty(client, rec.bucket, rec.key, stray)
        elif self._reconcile(t, client):
            return  # it was completed before a crash; now recorded as done
        with self._lock:
            if not t.cancel.is_set() and self._move(t, UPLOADING,
                                                    only_from=(QUEUED, UPLOADING)):
                t.prepared = True  # the scheduler offers its parts when this job ends

    def _reconcile(self, t: Transfer, client: Any) -> bool:
        """Mark the parts the server already holds (core/transfer/recovery.py
        decides which); True when the upload turns out to be completed already."""
        try:
            kept = recovery.parts_to_keep(self.journal, t, client, say=lambda text: (
                self.message.emit("warning", f"{os.path.basename(t.rec.source)}: {text}")))
        except recovery.UploadGone:
            done = recovery.completed_before(self.journal, t, client)
            if done is None:
                raise
            self._finish(t, *done)
            return True
        with self._lock:
            for part in t.parts:
                keep = kept.get(part.number)
                if keep is not None:
                    part.etag, part.checksum = keep.etag, keep.checksum
                    t.mark_part(part, PartState.DONE)
                elif part.state == PartState.DONE:
                    part.etag = part.checksum = None
                    t.mark_part(part, PartState.PENDING)
        log.info("Reconciled %s with the server: %d of %d parts kept", t.rec.uri,
                 t.parts_done(), len(t.parts))
        return False

    def _begin_body(self, t: Transfer, part: Any, data: memoryview) -> PartBody:
        body = PartBody(data, t.cancel, self.limiter)
        with self._lock:
            part.body, part.started, part.error = body, now(), None
            part.attempts += 1
            part.snap = None
            t.changed()
        return body

    def _send_part(self, t: Transfer, part: Any, buffer: PartBuffer) -> None:
        rec = t.rec
        if t.fd is None:
            raise MpuguiError(f"'{rec.source}' is not open.")
        with self._read_lanes:
            data = read_range(t.fd, part.offset, part.size, buffer, rec.source)
            checksum = t.algo.value(data)
        body = self._begin_body(t, part, data)
        retries = 0
        try:
            etag, retries = s3.upload_part(self._client(t), rec, part.number, body,
                                           checksum, t.algo)
        finally:
            with self._lock:
                t.wire_bytes += body.total
        with self._lock:
            self.journal.record_part(t.id, PartRecord(part.number, part.size, etag, checksum))
            part.etag, part.checksum, part.body = etag, checksum, None
            part.attempts += retries
            t.retries += retries
            t.mark_part(part, PartState.DONE)

    def _complete(self, t: Transfer) -> None:
        rec = t.rec
        with self._lock:
            if not self._move(t, ASSEMBLING, only_from=(UPLOADING,)):
                return
        # Every part on disk in the journal before the object is assembled (a
        # journal that cannot be written fails the transfer here, resumable).
        self.journal.flush()
        check_unchanged(rec.source, t.identity)
        parts = t.done_records()
        client = self._client(t)
        etag = s3.complete(client, rec, parts, t.algo)
        with self._lock:
            self._move(t, VERIFYING, final_etag=etag)
        self._finish(t, etag, s3.verify(client, rec, parts, t.algo, etag))

    def _finish(self, t: Transfer, etag: str, verdict: Verdict) -> None:
        verification = str(verdict)
        with self._lock:
            # The object is stored: done wins over a pause or cancel that came
            # while its last request was on the wire.
            cancelled_late = t.cancelling
            t.cancelling = False
            t.rec.final_etag, t.rec.verification = etag, verification
            t.rec.evidence = verdict.tokens
            for part in t.parts:
                if part.state != PartState.DONE:
                    t.mark_part(part, PartState.DONE)
            self._move(t, DONE, final_etag=etag, verification=verification,
                       evidence=verdict.tokens)
            t.close_file()
        # Per small file a line at INFO would cost more than its upload.
        log.log(logging.INFO if t.plan.multipart else logging.DEBUG, "Uploaded %s → %s (%s)",
                t.rec.source, t.rec.uri, verification)
        if cancelled_late:
            self.message.emit("warning", f"{t.rec.uri} was complete before the cancel "
                                         "reached it; it stays uploaded.")
        elif t.plan.multipart:  # per small file this would flood the log view
            self.message.emit("info",
                              f"Uploaded {os.path.basename(t.rec.source)} to {t.rec.uri}.")

    def _abort(self, t: Transfer) -> None:
        rec = t.rec
        try:
            if rec.upload_id:
                s3.abort_until_empty(self._client(t), rec.bucket, rec.key, rec.upload_id)
        except s3.AbortUnsupported as exc:
            # Cancelled here all the same: nothing more can be done with the
            # upload, and the sentence says how to remove its parts.
            log.warning("Abort of %s: %s", rec.uri, exc)
            self._cancelled(t, kept=str(exc))
            return
        except Exception as exc:
            sentence = describe(exc, bucket=rec.bucket, op="s3:AbortMultipartUpload")
            gave_up: list[tuple[Transfer, str]] = []
            with self._lock:
                t.aborting = False
                if is_transient(exc):
                    # The cancel waits for the endpoint like an upload does, and
                    # is sent again when it answers (see _unwait).
                    log.info("Abort of %s waits for %s: %s", rec.uri, rec.endpoint.label(),
                             sentence)
                    t.cancelling = True
                    gave_up = self._wait(t, sentence, move=False)
                    if not gave_up:
                        t.changed()
                        return
                else:
                    log.warning("Abort of %s failed", rec.uri, exc_info=True)
                    # (as journaled: `cancel --json` reports it)
                    t.rec.error = (f"Cancel failed; the upload is still on the server: "
                                   f"{sentence}")
                    self._move(t, FAILED, t.rec.error)
            if gave_up:
                for failed, why in gave_up:
                    self.message.emit("error", f"{os.path.basename(failed.rec.source)}: {why}")
                return
            self.message.emit("error", f"{os.path.basename(rec.source)}: {t.detail}")
            return
        self._cancelled(t)

    def _cancelled(self, t: Transfer, kept: str = "") -> None:
        """`kept`: the server could not abort; says what stays there."""
        self.journal.forget_parts(t.id)
        with self._lock:
            t.aborting = t.cancelling = False
            t.reset_parts()
            self._move(t, CANCELLED, kept)
            t.close_file()
            restart = t.restart_after_abort
        if kept:
            self.message.emit("warning", f"Cancelled {t.rec.uri}. {kept}")
        else:
            self.message.emit("info",
                              f"Cancelled {t.rec.uri}; nothing of it is left on the server.")
        if restart:
            self._restart_wanted.emit(t.id)  # queued when this is a worker thread

    def _cancelled_many(self, ts: list[Transfer]) -> None:
        """Cancel transfers that never reached the server (no upload id, nothing
        in flight) at once: one journal transaction and, past a few, one
        sentence, whatever their number (a forwarded cancel of 100,000 ids)."""
        if len(ts) <= SAY_EACH_UP_TO:
            for t in ts:
                self._cancelled(t)
            return
        self.journal.forget_parts_many([t.id for t in ts])
        restarts = []
        with self._lock:
            for t in ts:
                t.aborting = t.cancelling = False
                t.reset_parts()
                self._move(t, CANCELLED)
                t.close_file()
                if t.restart_after_abort:
                    restarts.append(t.id)
        self.message.emit("info", f"Cancelled {len(ts):,} transfers that had not reached the "
                                  "server yet; nothing of them is left there.")
        for tid in restarts:
            self._restart_wanted.emit(tid)

    def restart(self, transfer_id: int, refused: list[str] | None = None) -> int | None:
        """Queue a cancelled transfer's file again from scratch (a new upload).
        When it cannot, the sentence is posted and appended to `refused`."""
        with self._lock:
            t = self._by_id.get(transfer_id)
            if t is None or t.state != CANCELLED:
                return None
            rec = t.rec
        self.remove([transfer_id])  # first: the queue never shows both
        try:
            return self.add(UploadRequest(rec.source, rec.bucket, rec.key, rec.endpoint,
                                          rec.part_size or None, rec.checksum,
                                          rec.storage_class, rec.no_overwrite,
                                          rec.content_type))
        except MpuguiError as exc:
            sentence = f"{rec.source} cannot start over: {exc}"
            self.message.emit("error", sentence)
            if refused is not None:
                refused.append(sentence)
            return None

    # -- failures -----------------------------------------------------------------

    def _job_failed(self, job: Job, exc: BaseException) -> None:
        t, part = job.transfer, job.part
        if isinstance(exc, Interrupted) or (t.cancel.is_set() and job.kind in (PART, PUT)):
            with self._lock:
                if part is not None and part.state != PartState.DONE:
                    part.body = None
                    t.mark_part(part, PartState.PENDING)
            return
        retries = getattr(exc, "mpugui_retries", 0)  # botocore's, stopped by the RetryGate
        if isinstance(exc, ClientError):
            retries = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        sentence = describe(exc, bucket=t.rec.bucket, op=_OPS.get(job.kind, "this operation"),
                            profile=t.rec.endpoint.profile)
        if job.kind == PUT and t.rec.no_overwrite and error_code(exc) == "PreconditionFailed":
            sentence = (f"{t.rec.uri} already exists and the transfer is set not to "
                        "overwrite it.")
        if isinstance(exc, SourceChanged):
            # Say what became of the upload: kept (resumable once the file is
            # back as it was) or never stored (small files check before sending).
            sentence += (" The partial upload is kept on the server: put the file back as it "
                         "was and resume, or start over to upload it as it is now."
                         if t.rec.upload_id else
                         " Nothing was stored; start over to upload it as it is now.")
        tls_again = is_tls_failure(exc) and self._answered_before(t)
        if tls_again:
            sentence = TLS_AGAIN
        transient = is_transient(exc) or tls_again
        # An endpoint that cannot be reached or does not answer (see
        # is_unreachable), or one already known down: wait for it now rather
        # than retry part by part (one probe for all that wait on it). A reset
        # or a 5xx is often one request's bad luck (seen under load with
        # nothing down): part retries first; it waits once they are spent.
        wait = transient and (is_unreachable(exc) or tls_again
                              or self._outages.is_down(t.rec.endpoint))
        log.log(logging.DEBUG if wait else logging.WARNING, "%s of %s failed: %s", job.kind,
                t.rec.uri, sentence, exc_info=not transient and not isinstance(exc, MpuguiError))
        gave_up: list[tuple[Transfer, str]] = []
        with self._lock:
            t.retries += retries
            if part is not None and part.state != PartState.DONE:
                part.body = None
                part.attempts += retries
                part.failures += 1
                part.error = sentence
                if transient and not wait and part.failures <= self.settings.part_retries:
                    t.retries += 1
                    t.mark_part(part, PartState.PENDING, now() + self._backoff(part.failures))
                    if job.kind == PUT:
                        self._sched.offer_at(t, part.not_before)
                    log.info("Part %d of %s will be retried (%d of %d)", part.number,
                             t.rec.uri, part.failures, self.settings.part_retries)
                    return
                if transient:  # sent again once the endpoint answers
                    part.failures = 0
                    t.mark_part(part, PartState.PENDING)
                else:
                    t.mark_part(part, PartState.FAILED)
            if job.kind == COMPLETE and transient and not wait:
                t.complete_failures += 1
                if t.complete_failures <= self.settings.part_retries:
                    t.not_before = now() + self._backoff(t.complete_failures)
                    self._move(t, UPLOADING, only_from=(ASSEMBLING, VERIFYING))
                    return
            if t.cancelling:
                return  # a cancel is under way: its abort (job_done schedules it) ends this
            if t.state == FAILED:
                return  # another part already failed it
            if transient:
                if job.kind == PREPARE and t.rec.upload_id is None:
                    self._maybe_created.add(t.id)  # its Create may have reached the server
                gave_up = self._wait(t, sentence)
                if part is not None and t.state == WAITING:
                    t.retries += 1  # the part will be sent again
        if transient:
            for failed, why in gave_up:
                self.message.emit("error", f"{os.path.basename(failed.rec.source)}: {why}")
            return
        with self._lock:
            if t.state == FAILED:
                return
            t.cancel.set()  # stop the other parts of this transfer
            t.prepared = False
            t.rec.error = sentence  # as journaled; the CLI's --json lines report it
            if not self._move(t, FAILED, sentence, only_from=_RUNNING):
                return  # paused or cancelled meanwhile: that stands
        self.message.emit("error", f"{os.path.basename(t.rec.source)}: {sentence}")

    # -- outages (core/transfer/outage.py; engine lock held unless said) ------------

    def _wait(self, t: Transfer, reason: str, move: bool = True) -> list[tuple[Transfer, str]]:
        """`t` waits for its endpoint to answer, keeping its upload and parts
        (with `move` False its state stays: a cancel waiting to be sent).
        Returns the transfers failed instead when the user's limit is reached."""
        t_now = now()
        key = t.rec.endpoint
        first = not self._outages.is_down(key)
        o = self._outages.wait(key, t.rec.bucket, t.id, t, reason, t_now)
        if self._outages.expired(o, t_now):
            return self._give_up(o, t_now)
        if move and not self._move(t, WAITING, reason, only_from=_RUNNING):
            self._outages.leave(key, t.id)  # paused or cancelled meanwhile: that stands
            return []
        if first:
            log.warning("%s does not answer (%s); transfers wait and resume by themselves",
                        key.label(), reason)
        if self._prober is None and not self._sched.stopping:
            self._prober = threading.Thread(target=self._probe_loop, daemon=True,
                                            name="mpugui-outage-probe")
            self._prober.start()
        self._probe_wake.set()
        return []

    def _give_up(self, o: outage.Outage[Transfer], t_now: float) -> list[tuple[Transfer, str]]:
        waited = t_now - o.since
        sentence = o.reason if not self._outages.max_wait else (
            f"{o.reason} Gave up after waiting {format_duration(waited)} for the endpoint; "
            "the upload is kept: resume it later.")
        failed = []
        for t in self._outages.give_up(o.key):
            why = sentence
            if t.cancelling:  # a cancel that could not be sent
                t.cancelling = False
                why = f"Cancel failed; the upload is still on the server: {sentence}"
            t.rec.error = why
            t.prepared = False
            t.cancel.set()  # its parts still on the wire stop, as with any failure
            if self._move(t, FAILED, why, only_from=(*_RUNNING, PAUSED)):
                failed.append((t, why))
        log.warning("Gave up waiting for %s after %.0f s: %d transfers failed",
                    o.key.label(), waited, len(failed))  # type: ignore[attr-defined]
        return failed

    def _held(self, job: Job) -> bool:
        """Keep a job from a known-down endpoint: its transfer waits instead
        (100,000 queued small files do not each try the dead network)."""
        if job.kind == ABORT:
            return False
        with self._lock:
            held, gave_up = self._hold(job)
        self._say_failed(gave_up)
        return held

    def _hold(self, job: Job) -> tuple[bool, list[tuple[Transfer, str]]]:
        """_held with the lock held (the small-file sender takes jobs in
        batches under one lock): whether it was held, and who gave up."""
        t = job.transfer
        o = self._outages.get(t.rec.endpoint)
        if o is None or not o.down:
            return False, []
        if job.part is not None and job.part.state != PartState.DONE:
            t.mark_part(job.part, PartState.PENDING)
        return True, self._wait(t, o.reason)

    def _say_failed(self, failed: list[tuple[Transfer, str]]) -> None:
        """One message per failed transfer, or one for all when there are many
        (giving up on 100,000 waiting files; each keeps its sentence as its
        state's detail)."""
        if len(failed) > SAY_EACH_UP_TO:
            self.message.emit("error", f"{len(failed):,} transfers failed: {failed[0][1]}")
            return
        for t, why in failed:
            self.message.emit("error", f"{os.path.basename(t.rec.source)}: {why}")

    def _note_answered(self, t: Transfer) -> None:
        """A job of `t` got an answer: its endpoint answered in this run (an
        identity check per job; a folder's transfers share one Endpoint)."""
        ep = t.rec.endpoint
        if ep is not self._last_answered:
            self._answered.add(ep)
            self._last_answered = ep

    def _answered_before(self, t: Transfer) -> bool:
        """Whether `t`'s endpoint answered before: in this run, or it holds an
        upload id (its Create was answered, maybe in an earlier run)."""
        if t.rec.upload_id is None and t.rec.endpoint not in self._answered:
            return False
        self._answered.add(t.rec.endpoint)  # for the probe
        return True

    def _reached(self, t: Transfer) -> None:
        """A job talked to its endpoint without a transient failure (worker)."""
        with self._lock:
            if self._outages.watching:
                self._outages.succeeded(t.rec.endpoint)
                self._probe_wake.set()

    def _unwait(self, t: Transfer) -> None:
        """The endpoint answers: `t` carries on from its finished parts (or
        its cancel is sent, when that was what waited)."""
        if t.cancelling:
            if t.inflight == 0:
                self._sched.abort(t)
            return
        if t.state != WAITING or t.cancel.is_set():
            return
        for part in t.parts:
            part.failures = 0
        t.reset_pending()
        t.complete_failures = 0
        self._move(t, UPLOADING if t.prepared else QUEUED)
        self._sched.offer(t)

    def _probe_loop(self) -> None:
        """The probe thread: sleeps until an outage's probe is due, probes."""
        while True:
            self._probe_wake.clear()
            with self._lock:
                if self._sched.stopping:
                    return
                slept = self._sleep_watch.slept()
                if slept and self._outages.woke(now()):
                    log.warning("Woke from a sleep of %.0f s: probing every endpoint "
                                "that did not answer", slept)
                due = self._outages.take_due(now())
                wakeup = self._outages.next_due()
                if self._outages:  # a sleep stops the monotonic clock: look again soon
                    wakeup = min(math.inf if wakeup is None else wakeup,
                                 now() + outage.WATCH_EVERY)
            for o in due:
                try:
                    self._probe(o)
                except Exception:  # the one prober must outlive a bug in a probe
                    log.exception("Probing %s failed", o.key)
            if not due:
                self._probe_wake.wait(None if wakeup is None else max(0.01, wakeup - now()))

    def _probe(self, o: outage.Outage[Transfer]) -> None:
        """One cheap request (HeadBucket): any answer but a transient one means
        the endpoint is back, also 403 or 404 (the transfers then meet that
        cause themselves and fail with its sentence)."""
        endpoint: Any = o.key
        log.info("Probing %s (%d transfers waiting)", endpoint.label(), len(o.waiting))
        try:
            self.clients.probe_client(endpoint).head_bucket(Bucket=o.bucket)
            answered, reason = True, ""
        except Exception as exc:
            # A failed handshake with an endpoint that answered before is
            # the network's (a login page), not an answer.
            tls_again = is_tls_failure(exc) and endpoint in self._answered
            answered = not is_transient(exc) and not tls_again
            reason = TLS_AGAIN if tls_again else describe(exc, bucket=o.bucket,
                                                          op="s3:ListBucket")
        if self._sched.stopping:
            return  # shut down while the probe was on the wire
        gave_up: list[tuple[Transfer, str]] = []
        resumed: list[Transfer] = []
        with self._lock:
            t_now = now()
            if answered:
                resumed = self._outages.answered(o, t_now)
                self._was_busy = True
                log.warning("%s answers again after %.0f s; %d transfers resume",
                            endpoint.label(), t_now - o.since, len(resumed))
            else:
                self._outages.probe_failed(o, reason, t_now)
                if self._outages.expired(o, t_now):
                    gave_up = self._give_up(o, t_now)
        # A slice per tick: the lock is never held for long, and no tick
        # carries 100,000 state events (each one a signal to the window). The
        # first slice goes at once; only a few hundred can be sent at a time.
        for i in range(0, len(resumed), RESUME_SLICE):
            if i:
                time.sleep(self.settings.tick_ms / 1000)
            with self._lock:
                if self._sched.stopping:
                    return
                for t in resumed[i:i + RESUME_SLICE]:
                    self._unwait(t)
            if i == 0:
                self._threads_wanted.emit()
                self._sched.wake()
        for failed, why in gave_up:
            self.message.emit("error", f"{os.path.basename(failed.rec.source)}: {why}")

    def outages(self) -> list[OutageSnapshot]:
        """The endpoints down now (a few: one per endpoint), for the window."""
        with self._lock:
            return self._outage_snapshots()

    def _outage_snapshots(self) -> list[OutageSnapshot]:
        t_now = now()
        return [OutageSnapshot(o.key.label(), o.reason, len(o.waiting),  # type: ignore[attr-defined]  # EndpointKey
                               o.retry_in(t_now), t_now - o.since, o.probing)
                for o in self._outages.down()]

    @property
    def probes_sent(self) -> int:
        return self._outages.probes

    def _backoff(self, failures: int) -> float:
        base = self.settings.retry_base * (2 ** (failures - 1))
        return min(30.0, base) * random.uniform(0.5, 1.5)

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

    # -- ticks (engine thread) ----------------------------------------------------------

    def _refresh(self, limit: int | None = REFRESH_LIMIT) -> None:
        """Snapshot what changed (at most `limit` transfers) into the table and
        the pending delta; engine lock held."""
        t_now = now()
        table, totals, changed = self._table, self._totals, self._changed
        for tid in self._removed:
            totals.forget(table.pop(tid, None))
            changed.pop(tid, None)
        todo = list(itertools.islice(self._dirty, limit))
        for t in todo:
            del self._dirty[t]
        also = self._sending.difference(todo)
        by_id, sending = self._by_id, self._sending
        for t in itertools.chain(todo, also):
            tid = t.rec.id
            if by_id.get(tid) is not t:
                continue  # removed (a worker finishing with it marked it once more)
            snap = t.snapshot(t_now)
            old = table.get(tid)
            if snap is not old:
                totals.apply(old, snap)
                table[tid] = changed[tid] = snap
            if t.uploading or snap.speed:
                sending.add(t)
            elif t in sending:
                sending.discard(t)
        if not self._sending:
            totals.speed = 0.0  # no drift left over from adding and taking floats

    def current_snapshot(self) -> EngineSnapshot:
        """The latest state: the table as of now, nothing new published."""
        with self._lock:
            self._refresh()
            return self._snapshot((), (), ())

    def _snapshot(self, changed: tuple[TransferSnapshot, ...], removed: tuple[int, ...],
                  events: tuple[StateEvent, ...]) -> EngineSnapshot:
        totals = self._totals
        return EngineSnapshot(
            seq=self._seq, changed=changed, removed=removed, events=events,
            table=MappingProxyType(self._table), counts=MappingProxyType(totals.counts),
            total_bytes=totals.total_bytes, done_bytes=totals.done_bytes,
            retries=totals.retries, wire_bytes=totals.wire_bytes,
            speed=max(0.0, totals.speed), concurrency=self._sched.limit,
            bandwidth_limit=self.limiter.rate, time=now(),
            outages=tuple(self._outage_snapshots()) if self._outages else ())

    def publish(self, everything: bool = False) -> EngineSnapshot | None:
        """Emit what changed since the last tick (the tick calls this; the CLI
        calls it with `everything` at the end, so no event is left unsaid)."""
        with self._lock:
            self._refresh(None if everything else REFRESH_LIMIT)
            changed = tuple(sorted(self._changed.values(), key=lambda s: s.id))
            removed, events = tuple(self._removed), tuple(self._events)
            self._changed, self._removed, self._events = {}, [], []
            countdown = self._outages.any_down() and \
                now() - self._outage_published >= OUTAGE_PUBLISH
            if not (changed or removed or events or self._totals.speed or countdown):
                return None
            if self._outages:
                self._outage_published = now()
            self._seq += 1
            snap = self._snapshot(changed, removed, events)
        self.snapshot.emit(snap)
        if self.receivers(SIGNAL("state_changed(int,QString)")):  # 3 per small file
            for ev in events:
                self.state_changed.emit(ev.id, ev.state)
        return snap

    def _tick(self) -> None:
        if self._adaptive is not None:
            with self._lock:
                demand = self._sched.demand(2 * self.settings.max_concurrency)
                part_size = max((t.plan.largest_part for t in self._sending
                                 if t.plan.multipart), default=0)
                inputs = Inputs(self.limiter.moved, demand, self._totals.retries, part_size)
            n = self._adaptive.update(now(), inputs)
            if n != self._sched.limit:
                self._set_limit(n)
        self.publish()
        with self._lock:
            busy = self._busy() or bool(self._dirty)
        if self._was_busy and not busy:
            self.idle.emit()
        self._was_busy = busy


def _open(path: str, t: Transfer) -> int:
    """Open the source; a file gone or unreadable since it was planned is
    said as such (SourceChanged), not as a bare OS error."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        check_unchanged(path, t.identity)
        raise


_OPS = {PREPARE: "s3:PutObject (CreateMultipartUpload)", PART: "s3:PutObject (UploadPart)",
        PUT: "s3:PutObject", COMPLETE: "s3:PutObject (CompleteMultipartUpload)",
        ABORT: "s3:AbortMultipartUpload"}
