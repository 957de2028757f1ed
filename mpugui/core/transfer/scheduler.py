"""Which job a free worker takes next, without searching for it.

Transfers that can give a job now wait in two ready heaps ordered by queue
position: multipart transfers (their parts, prepare and complete share the
part limit, which adaptive concurrency sets) and single-PutObject transfers
(small files: latency-bound, so many go at once, bounded by a request count
and the bytes they hold). A transfer with nothing to give leaves its heap
and is offered again by the event that gives it work (prepared, a part back
from failure, the last part done, resume). Parts that failed wait out their
backoff in a timer heap, so a worker never sleeps on a retry. A finished job
wakes one worker, and only when a heap holds work.

Queue order: the first multipart transfer's parts fill the part slots before
the next one's, and none takes a part slot while an earlier one is still
preparing. Small files follow their own queue order.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from mpugui.core.states import QUEUED, UPLOADING, PartState
from mpugui.core.transfer.progress import PartProgress, Transfer, now

PREPARE, PART, PUT, COMPLETE, ABORT = "prepare", "part", "put", "complete", "abort"

# At most this many parts start within one window. Starting a part is a burst
# of pure-Python work in botocore (validation, serialising, signing); sixteen
# at the same instant kept the GIL from the window for over 100 ms. Spread
# over a few windows, the start costs throughput nothing. 8 per 40 ms: the
# 5 MiB parts that end a tapered plan go at ~120 a second on loopback, and 4
# per window held a 1 GiB upload back by 0.4 s; the GUI probe still measures
# p99 7-9 ms, max 17-27 ms with 16 parts starting (tests/bench/gui_stall.py).
# Small files are not limited this way: their requests are small.
START_BURST, START_WINDOW = 8, 0.04
# Small files in flight at once (EngineSettings.put_concurrency). One thread
# sends them all (core/s3/putloop.py), so a request in flight costs a socket,
# not a thread: 5,000 x 64 KiB at 40 ms RTT need ~70 in flight to fill a
# 100 MB/s link; s5cmd runs 256.
PUT_LIMIT = 128
PUT_MEMORY = 256 * 1024 * 1024  # bytes small files in flight may hold together
# Bytes of files one take_puts() hands out at most (past its first file): the
# taker reads them all before any is sent, so the first requests of a folder
# of 256 KiB files wait for 4 MiB of reading, not for 32 MiB.
TAKE_BYTES = 4 * 1024 * 1024

_PARTS, _PUTS = 1, 2  # Transfer.queued_in: the heap that holds it


@dataclass(slots=True)
class Job:
    kind: str
    transfer: Transfer
    part: PartProgress | None = None


def _runnable(t: Transfer) -> bool:
    return t.state in (QUEUED, UPLOADING) and not t.cancel.is_set() and not t.aborting


class Scheduler:
    def __init__(self, limit: int, put_limit: int = PUT_LIMIT,
                 put_memory: int = PUT_MEMORY) -> None:
        self.lock = threading.Condition(threading.RLock())
        self.limit = limit  # prepare, part and complete jobs in flight at once
        self.put_limit = put_limit
        self.put_memory = put_memory
        self.running = 0  # jobs under `limit`
        self.running_puts = 0
        self.running_aborts = 0
        self.put_bytes = 0
        self.stopping = False
        self._parts: list[tuple[float, int, Transfer]] = []
        self._puts: list[tuple[float, int, Transfer]] = []
        self._delayed: list[tuple[float, int, Transfer]] = []
        self._aborts: collections.deque[Transfer] = collections.deque()
        self._preparing: dict[int, float] = {}  # id -> position, multipart prepares running
        self._starts: collections.deque[float] = collections.deque()
        self._seq = itertools.count()
        # Set when small files have their own sender (core/s3/putloop.py): it is
        # told when a PutObject may be taken, and workers never take one.
        self.puts_ready: Callable[[], None] | None = None

    # -- offering work (lock held by the caller or taken here) ------------------

    def offer(self, t: Transfer) -> None:
        """`t` may have a job now: put it on its ready heap (once)."""
        with self.lock:
            if t.queued_in or not _runnable(t):
                return
            t.queued_in = _PARTS if t.plan.multipart else _PUTS
            heap = self._parts if t.plan.multipart else self._puts
            heapq.heappush(heap, (t.rec.position, t.id, t))
            if heap is self._puts and self.puts_ready is not None:
                self.puts_ready()
            else:
                self.lock.notify()

    def offer_at(self, t: Transfer, when: float) -> None:
        with self.lock:
            heapq.heappush(self._delayed, (when, next(self._seq), t))
            self.lock.notify()

    def abort(self, t: Transfer) -> None:
        """Queue the abort of a cancelled transfer (served first, past the limit)."""
        with self.lock:
            self._aborts.append(t)
            self.lock.notify()

    def wake(self) -> None:
        with self.lock:
            self.lock.notify_all()

    def has_work(self) -> bool:
        """Jobs running or aborts waiting (queued transfers are the engine's to count)."""
        return bool(self._aborts or self.running or self.running_puts or self.running_aborts)

    def demand(self, cap: int) -> int:
        """Parts running or waiting to run, counted up to `cap` (the adaptive
        controller's "could use more connections" input)."""
        n = self.running
        for _pos, _id, t in self._parts:
            if n >= cap:
                break
            n += len(t.parts) - t.parts_done() - len(t.uploading)
        return min(n, cap)

    # -- taking and finishing jobs (worker threads) ------------------------------

    def next_job(self) -> Job | None:
        """Block until there is a job for this worker; None means exit."""
        with self.lock:
            while not self.stopping:
                job, wakeup = self._pick(now())
                if job is not None:
                    if job.kind == PUT:
                        self.running_puts += 1
                        self.put_bytes += job.transfer.rec.size
                    elif job.kind == ABORT:
                        self.running_aborts += 1
                    else:
                        self.running += 1
                    job.transfer.inflight += 1
                    return job
                timeout = None if wakeup is None else max(0.005, wakeup - now())
                self.lock.wait(timeout)
            return None

    def take_puts(self, n: int) -> list[Job]:
        """Up to `n` PutObject jobs at once (and about TAKE_BYTES of files),
        for the small-file sender."""
        jobs: list[Job] = []
        taken = 0
        with self.lock:
            t_now = now()
            while self._delayed and self._delayed[0][0] <= t_now:
                self.offer(heapq.heappop(self._delayed)[2])
            while len(jobs) < n and taken < TAKE_BYTES and \
                    self.running_puts < self.put_limit and not self.stopping:
                job = self._put_job()
                if job is None:
                    break
                self.running_puts += 1
                self.put_bytes += job.transfer.rec.size
                taken += job.transfer.rec.size
                job.transfer.inflight += 1
                jobs.append(job)
        return jobs

    def puts_done(self, jobs: list[Job]) -> None:
        with self.lock:
            for job in jobs:
                t = job.transfer
                self.running_puts -= 1
                self.put_bytes -= t.rec.size
                t.inflight -= 1
                if t.inflight == 0 and t.cancelling:
                    self._aborts.append(t)
            if self._aborts:
                self.lock.notify()

    def job_done(self, job: Job) -> None:
        with self.lock:
            t = job.transfer
            if job.kind == PUT:
                self.running_puts -= 1
                self.put_bytes -= t.rec.size
            elif job.kind == ABORT:
                self.running_aborts -= 1
            else:
                self.running -= 1
            if job.kind == PREPARE:
                self._preparing.pop(t.id, None)
            t.inflight -= 1
            # (an abort job that ends still cancelling waits for its endpoint:
            # the engine sends it again when the endpoint answers)
            if t.inflight == 0 and t.cancelling and job.kind != ABORT:
                self._aborts.append(t)
            if t.plan.multipart:
                self.offer(t)  # a part back from failure, the last part done, prepared
            if self._parts or self._puts or self._aborts or self._delayed:
                self.lock.notify()
            if self.stopping or job.kind == PREPARE:
                self.lock.notify_all()  # the barrier moved: parts behind it may go

    def _pick(self, t_now: float) -> tuple[Job | None, float | None]:
        while self._aborts:  # first, past the limit: the user is waiting on a cancel
            t = self._aborts.popleft()
            if t.cancelling and t.inflight == 0:
                t.cancelling = False  # the abort job owns it now
                t.aborting = True
                return Job(ABORT, t), None
        while self._delayed and self._delayed[0][0] <= t_now:
            t = heapq.heappop(self._delayed)[2]
            self.offer(t)
        wakeup = self._delayed[0][0] if self._delayed else None
        # The heap whose head is earlier in the queue goes first; when it has
        # nothing to give (its limit, a barrier, a burst), the other may.
        if self.puts_ready is not None:  # small files have their own sender
            job, later = self._try_parts(t_now)
            if job is None and later is not None:
                wakeup = later if wakeup is None else min(wakeup, later)
            return job, None if job is not None else wakeup
        order = [self._try_puts, self._try_parts]
        if self._parts and self._puts and self._parts[0][:2] < self._puts[0][:2]:
            order.reverse()
        for take in order:
            job, later = take(t_now)
            if job is not None:
                return job, None
            if later is not None:
                wakeup = later if wakeup is None else min(wakeup, later)
        return None, wakeup

    def _try_puts(self, _t_now: float) -> tuple[Job | None, float | None]:
        return (self._put_job() if self.running_puts < self.put_limit else None), None

    def _try_parts(self, t_now: float) -> tuple[Job | None, float | None]:
        return self._part_job(t_now) if self.running < self.limit else (None, None)

    def _put_job(self) -> Job | None:
        heap = self._puts
        while heap:
            t = heap[0][2]
            if not _runnable(t) or t.inflight:
                heapq.heappop(heap)
                t.queued_in = 0
                continue
            if self.running_puts and self.put_bytes + t.rec.size > self.put_memory:
                return None
            heapq.heappop(heap)
            t.queued_in = 0
            part = t.parts[0]
            if part.state != PartState.UPLOADING:
                t.mark_part(part, PartState.UPLOADING)
            return Job(PUT, t, part)
        return None

    def _part_job(self, t_now: float) -> tuple[Job | None, float | None]:
        heap = self._parts
        barrier = min(self._preparing.values(), default=None)
        while heap:
            position, _id, t = heap[0]
            if not _runnable(t):
                heapq.heappop(heap)
                t.queued_in = 0
                continue
            if not t.prepared:
                heapq.heappop(heap)
                t.queued_in = 0
                if t.inflight:
                    continue  # offered again when its last job ends
                self._preparing[t.id] = position
                return Job(PREPARE, t), None
            if barrier is not None and barrier < position:
                return None, None  # an earlier transfer is preparing: woken when it ends
            while self._starts and t_now - self._starts[0] > START_WINDOW:
                self._starts.popleft()
            if len(self._starts) >= START_BURST:
                return None, self._starts[0] + START_WINDOW
            part = t.pending_part(t_now)
            if part is not None:
                self._starts.append(t_now)
                t.mark_part(part, PartState.UPLOADING)
                return Job(PART, t, part), None
            heapq.heappop(heap)
            t.queued_in = 0
            if t.all_parts_done():
                if t.inflight:
                    continue  # offered again when the last part's job ends
                if t.not_before > t_now:
                    self.offer_at(t, t.not_before)
                    continue
                return Job(COMPLETE, t), None  # the job moves it to assembling
            wake = t.next_wakeup()
            if wake is not None:
                self.offer_at(t, wake)  # parts waiting out a backoff
            # else every part left is in flight: offered again as each ends
        return None, None
