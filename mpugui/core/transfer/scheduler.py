"""Which job a free worker takes next.

One global concurrency limit is shared by all transfers, and transfers are
served in queue order: the first transfer's parts fill every slot before the
next transfer is started. Parts that failed wait out their backoff here, so a
worker never sleeps on a retry.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from mpugui.core.journal.store import ASSEMBLING, QUEUED, UPLOADING
from mpugui.core.transfer.progress import PartProgress, Transfer, now
from mpugui.core.transfer.snapshot import UPLOADING as PART_UPLOADING

PREPARE, PART, PUT, COMPLETE, ABORT = "prepare", "part", "put", "complete", "abort"

# At most this many parts start within one window. Starting a part is a burst
# of pure-Python work in botocore (validation, serialising, signing); sixteen
# at the same instant kept the GIL from the window for over 100 ms. Spread
# over a few windows, the start costs throughput nothing. 8 per 40 ms: the
# 5 MiB parts that end a tapered plan go at ~120 a second on loopback, and 4
# per window held a 1 GiB upload back by 0.4 s; the GUI probe still measures
# p99 7-9 ms, max 17-27 ms with 16 parts starting (tests/bench/gui_stall.py).
START_BURST, START_WINDOW = 8, 0.04


@dataclass
class Job:
    kind: str
    transfer: Transfer
    part: PartProgress | None = None


class Scheduler:
    def __init__(self, limit: int) -> None:
        self.lock = threading.Condition(threading.RLock())
        self.transfers: list[Transfer] = []  # in queue order
        self.limit = limit
        self.running = 0
        self.stopping = False
        self._starts: collections.deque[float] = collections.deque()

    def wake(self) -> None:
        with self.lock:
            self.lock.notify_all()

    def next_job(self) -> Job | None:
        """Block until there is a job for this worker; None means exit."""
        with self.lock:
            while not self.stopping:
                job, wakeup = self._pick(now())
                if job is not None:
                    self.running += 1
                    job.transfer.inflight += 1
                    return job
                timeout = None if wakeup is None else max(0.01, wakeup - now())
                self.lock.wait(timeout)
            return None

    def job_done(self, job: Job) -> None:
        with self.lock:
            self.running -= 1
            job.transfer.inflight -= 1
            self.lock.notify_all()

    def _pick(self, t_now: float) -> tuple[Job | None, float | None]:
        wakeups: list[float] = []
        # Aborts first, past the limit: the user is waiting on a cancel.
        for t in self.transfers:
            if t.cancelling and t.inflight == 0:
                t.cancelling = False  # the abort job owns it now
                t.aborting = True
                return Job(ABORT, t), None
        if self.running >= self.limit:
            return None, None
        while self._starts and t_now - self._starts[0] > START_WINDOW:
            self._starts.popleft()
        can_start_part = len(self._starts) < START_BURST
        earlier_preparing = False  # later transfers may prepare, not take part slots
        for t in self.transfers:
            if t.state not in (QUEUED, UPLOADING) or t.cancel.is_set() or t.aborting:
                continue
            if not t.prepared:
                if t.inflight == 0 and not t.preparing:
                    t.preparing = True
                    return Job(PREPARE, t), None
                earlier_preparing = True
                continue
            if earlier_preparing:
                continue
            part = t.pending_part(t_now)
            if part is not None and not can_start_part:
                wakeups.append(self._starts[0] + START_WINDOW)
                continue
            if part is not None:
                self._starts.append(t_now)
                t.mark_part(part, PART_UPLOADING)
                return Job(PART if t.plan.multipart else PUT, t, part), None
            if t.all_parts_done() and t.inflight == 0 and t.plan.multipart:
                if t.not_before <= t_now:
                    t.set_state(ASSEMBLING)
                    return Job(COMPLETE, t), None
                wakeups.append(t.not_before)
            wake = t.next_wakeup()
            if wake is not None:
                wakeups.append(wake)
        return None, min(wakeups) if wakeups else None
