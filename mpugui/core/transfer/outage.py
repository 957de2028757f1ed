"""Endpoints that stopped answering, and the transfers waiting for them.

A transient failure (refused, reset, DNS, timeout, 5xx, SlowDown) does not
fail a transfer: it joins its endpoint's outage and waits. Each outage has
ONE probe schedule (capped exponential backoff with jitter), whatever the
number of transfers waiting on it, and the waiting transfers are a dict: a
failure, a pause or an answer costs what it changes, never a scan of the
queue, and 100,000 waiting small files are one timer, not 100,000.

An outage lives from the first failure until its probe is answered (or a
request to its endpoint succeeds). Then the waiting transfers are handed back
to be resumed and the outage is closed, whether or not any of them ever
succeeds (they may all be paused, or fail for good): nothing open is left to
hold jobs or to cost a lock per request. It is remembered for QUIET_AFTER:
should its transfers fail again at once (a probe answered while uploads still
get 503), that failure reopens it, backing off further instead of starting
from the first delay, with `since` still counting towards the give-up limit;
a request that succeeds forgets it.

Times are time.monotonic(), which on Linux (and macOS) stands still while the
machine sleeps: a sleep counts neither towards the give-up limit nor as the
backoff's waiting. The engine notices a sleep with a SleepWatch (boot time
against monotonic time) and calls `woke`: every open outage probes at once.

Pure Python, no Qt, no network: the engine holds its lock while calling in,
runs the probes itself and owns every state change.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

FIRST_DELAY = 1.0  # seconds before the first probe; doubled per failed probe
MAX_DELAY = 30.0
JITTER = 0.25  # each delay is spread by +-25%: many clients do not probe in step
# An answered outage is reopened by a failure within this long of the answer
# (backing off further); after it, a failure starts a new outage.
QUIET_AFTER = 120.0
SLEPT = 2.0  # seconds the clocks must part by to count as a sleep (not jitter)
WATCH_EVERY = 5.0  # how often the probe thread checks the clocks while outages are open


@dataclass(eq=False)
class Outage(Generic[T]):
    """One endpoint that does not answer. Read by the window for the
    countdown (`next_probe`, `reason`): floats and strings replaced whole."""

    key: Hashable
    bucket: str  # what the probe asks about (HeadBucket): any bucket waiting on it
    since: float  # when requests to it began failing (monotonic)
    reason: str  # the latest failure, as a sentence
    level: int = 0  # failed probes so far: the backoff exponent
    next_probe: float = 0.0
    down: bool = True  # False once a probe was answered (recovering)
    probing: bool = False  # a probe is on the wire: not due again until it returns
    answered_at: float = 0.0
    probes: int = 0
    waiting: dict[int, T] = field(default_factory=dict)  # transfer id -> transfer

    def retry_in(self, now: float) -> float:
        return max(0.0, self.next_probe - now)


class Outages(Generic[T]):
    def __init__(self, first: float = FIRST_DELAY, cap: float = MAX_DELAY,
                 max_wait: float | None = None,
                 rng: Callable[[], float] = random.random) -> None:
        self.first = first
        self.cap = cap
        self.max_wait = max_wait  # None: wait indefinitely; seconds: then give up
        self._rng = rng
        self._by_key: dict[Hashable, Outage[T]] = {}  # open: down, probing
        self._recent: dict[Hashable, Outage[T]] = {}  # answered, may reopen
        self._due: list[tuple[float, int, Hashable]] = []  # (probe time, seq, key)
        self._seq = itertools.count()
        self.probes = 0  # probes sent, all endpoints (tests and the log)

    # -- queries ---------------------------------------------------------------

    def __bool__(self) -> bool:
        """Whether an outage is open (jobs to its endpoint are held)."""
        return bool(self._by_key)

    @property
    def watching(self) -> bool:
        """Whether a success should be reported (`succeeded`): an outage is
        open, or one was answered and no request has succeeded since."""
        return bool(self._by_key) or bool(self._recent)

    def get(self, key: Hashable) -> Outage[T] | None:
        return self._by_key.get(key)

    def is_down(self, key: Hashable) -> bool:
        """Whether requests to `key` should wait instead of being sent."""
        o = self._by_key.get(key)
        return o is not None and o.down

    def any_down(self) -> bool:
        return any(o.down for o in self._by_key.values())

    def down(self) -> list[Outage[T]]:
        """The endpoints down now (a handful: one per endpoint, not per transfer)."""
        return [o for o in self._by_key.values() if o.down]

    def next_due(self) -> float | None:
        self._drop_stale()
        return self._due[0][0] if self._due else None

    def expired(self, o: Outage[T], now: float) -> bool:
        return self.max_wait is not None and now - o.since >= self.max_wait

    # -- events ----------------------------------------------------------------

    def wait(self, key: Hashable, bucket: str, tid: int, t: T, reason: str,
             now: float) -> Outage[T]:
        """Transfer `t` could not reach `key`: it waits for the endpoint."""
        o = self._by_key.get(key)
        if o is None:
            o = self._recent.pop(key, None)
            if o is not None and now - o.answered_at <= QUIET_AFTER:
                # Failing again soon after the probe was answered: back off further.
                o.down = True
                o.level += 1
            else:  # a new outage (or one long after the last ended)
                o = Outage(key, bucket, now, reason)
            self._by_key[key] = o
            self._schedule(o, now)
        o.reason = reason
        o.waiting[tid] = t
        return o

    def leave(self, key: Hashable, tid: int) -> None:
        """`tid` no longer waits (paused, cancelled, failed, resumed)."""
        o = self._by_key.get(key)
        if o is not None:
            o.waiting.pop(tid, None)

    def take_due(self, now: float) -> list[Outage[T]]:
        """The outages whose probe is due; each is marked probing."""
        due = []
        self._drop_stale()
        while self._due and self._due[0][0] <= now:
            when, _seq, key = heapq.heappop(self._due)
            o = self._by_key.get(key)
            if o is None or not o.down or o.probing or o.next_probe != when:
                continue  # stale: rescheduled, answered or gone
            o.probing = True
            o.probes += 1
            self.probes += 1
            due.append(o)
        return due

    def probe_failed(self, o: Outage[T], reason: str, now: float) -> None:
        o.probing = False
        o.reason = reason
        o.level += 1
        if self._by_key.get(o.key) is o and o.down:
            self._schedule(o, now)

    def answered(self, o: Outage[T], now: float) -> list[T]:
        """The endpoint answers: its waiting transfers, to be resumed."""
        o.probing = False
        if self._by_key.get(o.key) is not o:
            return []
        del self._by_key[o.key]  # closed: nothing holds jobs any more
        o.down = False
        o.answered_at = now
        self._recent[o.key] = o
        waiting = list(o.waiting.values())
        o.waiting.clear()
        return waiting

    def succeeded(self, key: Hashable) -> None:
        """A request to `key` succeeded: its outage, if any, is over."""
        self._recent.pop(key, None)
        o = self._by_key.get(key)
        if o is not None and not o.waiting:
            del self._by_key[key]
        elif o is not None:
            # Some requests get through while others still fail (a flaky
            # link): probe now rather than after a long backoff.
            o.level = 0
            o.next_probe = 0.0
            self._push(o)

    def probe_now(self, key: Hashable) -> bool:
        """"Retry now": probe `key` at once (False when it is not down)."""
        o = self._by_key.get(key)
        if o is None or not o.down:
            return False
        o.next_probe = 0.0
        self._push(o)
        return True

    def give_up(self, key: Hashable) -> list[T]:
        """The user's limit is reached: forget the outage; its waiting transfers."""
        self._recent.pop(key, None)
        o = self._by_key.pop(key, None)
        return list(o.waiting.values()) if o is not None else []

    def woke(self, now: float) -> int:
        """The machine slept (SleepWatch): the network it wakes to may be
        another; every open outage probes at once. Returns how many."""
        for o in self._by_key.values():
            if not o.probing:
                o.next_probe = now
                self._push(o)
        return len(self._by_key)

    # -- backoff ----------------------------------------------------------------

    def delay(self, level: int) -> float:
        base = min(self.cap, self.first * (2 ** min(level, 30)))
        return base * (1 + JITTER * (2 * self._rng() - 1))

    def _schedule(self, o: Outage[T], now: float) -> None:
        o.next_probe = now + self.delay(o.level)
        self._push(o)

    def _push(self, o: Outage[T]) -> None:
        heapq.heappush(self._due, (o.next_probe, next(self._seq), o.key))

    def _drop_stale(self) -> None:
        # An entry is stale when its outage was rescheduled or is gone.
        due = self._due
        while due:
            when, _seq, key = due[0]
            o = self._by_key.get(key)
            if o is not None and o.down and not o.probing and o.next_probe == when:
                return
            heapq.heappop(due)


def _boottime() -> float:
    """Seconds since boot, sleep included (Linux); elsewhere the wall clock,
    which also jumps when it is set (then a probe comes early: harmless)."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.time()


class SleepWatch:
    """Notices that the machine slept: a clock that runs through a sleep
    (boot time) got ahead of the monotonic clock, which stood still.
    Both clocks are injectable (tests)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic,
                 through_sleep: Callable[[], float] = _boottime) -> None:
        self._monotonic = monotonic
        self._through = through_sleep
        self._gap = through_sleep() - monotonic()

    def slept(self) -> float:
        """Seconds slept since the last call (0.0 when below SLEPT)."""
        gap = self._through() - self._monotonic()
        slept, self._gap = gap - self._gap, gap
        return slept if slept >= SLEPT else 0.0
