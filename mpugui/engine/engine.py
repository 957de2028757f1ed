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

TransferEngine is built in layers, a module each, every layer using only
what the ones below define: base.py (signals, shared state, the one
transition) < failures.py (retry policy, outages) < jobs.py (worker threads,
a big file's job steps) < ticks.py (snapshots) < actions.py (pause, resume,
cancel, remove of a selection) < this module (the API: the queue, restore,
retry and restart, settings, shutdown).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer

from mpugui.core.errors import (
    MpuguiError,
    describe,
)
from mpugui.core.journal.store import (
    Journal,
    TransferRecord,
)
from mpugui.core.s3 import sender_spawn, smallput
from mpugui.core.s3.checksums import algorithm, default_for
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.s3.plan import TAPER_V1, make_plan
from mpugui.core.s3.putloop import PutLoop
from mpugui.core.sources import (
    Identity,
    guess_type,
    identity,
)
from mpugui.core.states import (
    CANCELLED,
    PAUSED,
    QUEUED,
)
from mpugui.core.transfer import outage
from mpugui.core.transfer.adaptive import AdaptiveConcurrency
from mpugui.core.transfer.bandwidth import RateLimiter
from mpugui.core.transfer.body import (
    BufferPool,
    limit_malloc_arenas,
)
from mpugui.core.transfer.progress import Transfer
from mpugui.core.transfer.request import UploadRequest
from mpugui.core.transfer.scheduler import (
    Scheduler,
)
from mpugui.core.transfer.snapshot import (
    StateEvent,
)
from mpugui.engine.actions import Actions
from mpugui.engine.base import _NEXT, _RUNNING
from mpugui.engine.settings import EngineSettings
from mpugui.engine.small_files import SmallFiles
from mpugui.engine.ticks import Throughput, Totals

log = logging.getLogger("mpugui.engine")

PROBER_JOIN = 1.0  # seconds shutdown waits for the probe thread


class TransferEngine(Actions):

    def __init__(self, journal: Journal, clients: ClientFactory | None = None,
                 settings: EngineSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.journal = journal
        self.settings = settings or EngineSettings()
        self.clients = clients or ClientFactory(self.settings.concurrency + 4)
        self.limiter = RateLimiter(self.settings.bandwidth_limit)
        self._adaptive = None
        if not self.settings.concurrency:
            self._adaptive = AdaptiveConcurrency(self.settings.max_concurrency,
                                                 self.settings.memory_budget)
        self._sched = Scheduler(self._adaptive.level if self._adaptive is not None
                                else self.settings.concurrency,
                                put_limit=max(1, self.settings.put_concurrency))
        self._lock = self._sched.lock
        self._threads = []
        # Small files: one thread, many requests in flight (core/s3/putloop.py),
        # sent by a process of its own (core/s3/sender.py) unless the settings
        # or MPUGUI_PUT_SENDER say otherwise.
        self._putloop = PutLoop(SmallFiles(self), self._sched.put_limit,
                                read_timeout=self.clients.read_timeout,
                                child=sender_spawn.wanted(self.settings.put_sender_process))
        self._sched.puts_ready = self._putloop.wake
        self._buffers = BufferPool()  # part buffers: memory follows the parts in flight
        self._read_lanes = threading.BoundedSemaphore(max(1, self.settings.read_lanes))
        limit_malloc_arenas()  # before the workers start: see body.py
        self._by_id = {}  # in queue order
        self._maybe_created = set()  # restored; Create may have been sent
        self._live = dict.fromkeys(_NEXT, 0)  # transfers per state, as of now
        # What the next tick publishes (engine lock held to change these):
        self._dirty = {}  # changed since their last snapshot, in order
        self._on_change = self._mark_dirty  # one bound method for every transfer to hold
        self._sending = set()  # bytes moving: snapshotted every tick
        self._removed = []
        self._events = []
        self._changed = {}
        # What has been published:
        self._table = {}
        self._totals = Totals()
        self._throughput = Throughput()
        self._put_sent = 0
        self._seq = 0
        self._was_busy = False
        # Endpoints that do not answer and the transfers waiting on them; one
        # probe thread for all of them, started at the first outage.
        self._outages = outage.Outages(
            self.settings.probe_first, self.settings.probe_cap, self.settings.max_wait)
        # botocore stops retrying a request to an endpoint known down (the
        # probe decides when it is sent again): core/s3/endpoint.py RetryGate.
        self.clients.is_down = self._outages.is_down
        # Endpoints that answered a request in this run: a TLS failure from
        # one of them waits (a login page in the way) rather than fails.
        self._answered = set()
        self._last_answered = None
        self._probe_wake = threading.Event()
        self._prober = None
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
        # Queued even from the engine's thread: _move holds the lock and is mid-change.
        self._drained.connect(self._tick, Qt.ConnectionType.QueuedConnection)

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
        if not paused and any(rec.size <= smallput.MAX_SIZE for rec, _plan in records):
            self._putloop.prepare()  # its process starts while the folder is journaled
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

    # -- user actions (engine thread; the rest in actions.py) -------------------

    def retry(self, ids: Iterable[int], refused: list[str] | None = None) -> list[int]:
        """The queue's Retry, one meaning for every state: a failed transfer
        resumes from its finished parts, a waiting one probes its endpoint now,
        a cancelled one starts over as a new upload (restart). Returns the ids
        of those new transfers; a refusal is posted and appended to `refused`."""
        ids = list(ids)
        with self._lock:
            cancelled = [t.id for t in self._pick(ids) if t.state == CANCELLED]
        self.resume(ids)  # passes over the cancelled ones
        started = (self.restart(tid, refused) for tid in cancelled)
        return [new_id for new_id in started if new_id is not None]

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

    @property
    def concurrency(self) -> int:
        return self._sched.limit

    def busy(self) -> bool:
        with self._lock:
            return self._busy()

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
            log.warning("Stopped with small files still on the wire (or still being read); "
                        "they are sent again at the next start")
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
