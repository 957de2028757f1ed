"""Adaptive concurrency: how many parts to keep in flight, found by probing.

A fixed number is wrong somewhere: 4 connections leave a 24 MB/s uplink with
1 MB/s per connection mostly idle, 64 connections on a slow home uplink make
every part take minutes (and hold 64 part buffers). So the engine probes:

1. Start low (START) and measure, over a short window after letting the
   change take effect, the bytes the network took (handed to sockets minus
   what is still unacknowledged in their send buffers).
2. Grow by GROWTH (x1.5) while throughput grows at least SCALING (half) as
   fast as the connections did. Growing by 1.5 bounds the overshoot: while a
   step still paid, the level was below what the link needs, so the next level
   stays under 1.5x the need.
3. When a step stops paying (in two windows running: one can be noise),
   settle: the per-connection rate of the last level that still scaled says
   how many connections the best throughput needs; settle there with
   headroom (never above the highest level tried): parts in flight beyond
   the need keep the link full while a file's last parts drain one by one.
4. Throttling or errors (503 SlowDown, timeouts, resets: any retry) cut the
   level by BACKOFF and hold it for COOLDOWN seconds before probing again.

Bounded by a user maximum and by memory (each part in flight holds one part in
memory). Measurements are skipped while there are fewer runnable parts than
slots (start and tail of a queue), where more connections could not help; once
the queue has been empty for a while, the next batch probes afresh.
Pure logic with an injected clock: tests feed it samples.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("mpugui.core.transfer.adaptive")

# 6, then 9: a link that 5 connections already fill (20 MB/s each, 100 MB/s)
# never sees more than 9 busy, inside 1.5 x its need + 2.
START = 6
MAXIMUM = 32  # the default user maximum
MEMORY_BUDGET = 1024 * 1024 * 1024  # bytes of part buffers in flight at most


@dataclass
class Tuning:
    start: int = START
    growth: float = 1.5
    scaling: float = 0.5  # share of the proportional gain that counts as "grew"
    # Bytes the network acknowledged (see unacked_bytes) are measured within
    # a few percent in a second or two. Where only the raw meter exists (bytes
    # handed to sockets: each send buffer, a few MB, fills at a part's start
    # and drains at its end), longer windows average that out.
    settle_delay: float = 0.5  # s after a change before measuring
    window: float = 0.75  # s of measurement per level
    settle_delay_raw: float = 1.0
    window_raw: float = 2.5
    headroom: float = 1.4  # settle this much above the computed need
    backoff: float = 0.7
    cooldown: float = 10.0  # s without probing after a cut
    cut_interval: float = 1.0  # s; errors closer together than this are one event
    idle_reset: float = 5.0  # s with nothing to send before probing starts over


@dataclass
class Inputs:
    """What the controller sees each tick."""

    moved: int  # bytes handed to sockets so far (re-sends included), monotonic
    demand: int  # parts that could run right now (uploading + pending)
    errors: int  # retries so far (botocore's and ours), monotonic
    part_size: int  # the largest part size among running transfers


@dataclass
class _Level:
    level: int
    rate: float


@dataclass
class AdaptiveConcurrency:
    maximum: int = MAXIMUM
    memory_budget: int = MEMORY_BUDGET
    tuning: Tuning = field(default_factory=Tuning)
    level: int = 0
    settled: bool = False
    history: list[_Level] = field(default_factory=list)
    # Where to learn the bytes not yet acknowledged by the peer; None: ignore.
    unacked: Callable[[], int | None] | None = field(default_factory=lambda: unacked_bytes)

    def __post_init__(self) -> None:
        self.maximum = max(1, self.maximum)
        self.level = self.level or min(self.tuning.start, self.maximum)
        self._mark: tuple[float, int] | None = None  # (time, moved) where measuring starts
        self._changed_at: float | None = None
        self._errors: int | None = None
        self._hold_until = 0.0
        self._last_cut = -math.inf
        self._idle_since: float | None = None
        self._exact = False  # whether the last reading had unacked bytes subtracted
        self._reread = False  # whether this level's step looked unpaid once already

    def _delivered(self, inputs: Inputs) -> int:
        """Bytes the network has taken: handed to sockets minus what still
        sits unacknowledged in their send buffers (see unacked_bytes)."""
        unacked = self.unacked() if self.unacked is not None else None
        self._exact = unacked is not None
        return inputs.moved - (unacked or 0)

    def cap(self, part_size: int) -> int:
        by_memory = self.memory_budget // part_size if part_size > 0 else self.maximum
        return max(1, min(self.maximum, by_memory))

    def update(self, now: float, inputs: Inputs) -> int:
        """Feed one sample; returns the concurrency to use from now on."""
        t = self.tuning
        cap = self.cap(inputs.part_size)
        if self.level > cap:
            return self._change(now, inputs, cap, "memory or user maximum")
        if inputs.demand == 0:
            self._idle_since = now if self._idle_since is None else self._idle_since
            if self.settled and now - self._idle_since >= t.idle_reset:
                # The queue ran dry: the next batch may go elsewhere, probe afresh.
                self.settled, self.history = False, []
                return self._change(now, inputs, min(t.start, cap), "queue idle")
        else:
            self._idle_since = None
        if self._errors is None or inputs.errors < self._errors:
            self._errors = inputs.errors  # first sample, or a transfer was removed
        if inputs.errors > self._errors:
            self._errors = inputs.errors
            if now - self._last_cut >= t.cut_interval:  # one cut per burst of errors
                self._last_cut = now
                new = max(1, math.floor(self.level * t.backoff))
                self._hold_until = now + t.cooldown
                self.settled, self.history = False, []
                return self._change(now, inputs, new, "errors or throttling")
        if now < self._hold_until:
            self._changed_at, self._mark = now, None
            return self.level
        if self._changed_at is None:
            self._changed_at = now
        if inputs.demand < self.level:
            # Not enough runnable parts to fill the slots: nothing to learn.
            self._changed_at, self._mark = now, None
            return self.level
        if self.settled:
            return self.level
        exact = self._exact
        if self._mark is None:
            if now - self._changed_at >= (t.settle_delay if exact else t.settle_delay_raw):
                self._mark = (now, self._delivered(inputs))
            return self.level
        t0, b0 = self._mark
        if now - t0 < (t.window if exact else t.window_raw):
            return self.level
        delivered = self._delivered(inputs)
        rate = (delivered - b0) / (now - t0)
        self._mark = (now, delivered)
        self.history.append(_Level(self.level, rate))
        if len(self.history) >= 2 and not self._paid(self.history[-2], self.history[-1]):
            if not self._reread:
                # One window is noisy: bytes that new connections pushed into
                # buffers the meter cannot see (a proxy's, a middlebox's) made
                # the level before look better, and the benchmark once settled
                # at 14 of the 24 connections a link needed. Read this level
                # once more before settling: at or past the need, the extra
                # window costs nothing.
                self._reread = True
                self.history.pop()
                return self.level
            return self._settle(now, inputs, cap)
        grown = min(cap, max(self.level + 1, math.ceil(self.level * t.growth)))
        if grown == self.level:
            return self._settle(now, inputs, cap)
        return self._change(now, inputs, grown, "throughput still growing")

    def _paid(self, prev: _Level, cur: _Level) -> bool:
        """Whether going from prev to cur connections raised throughput at
        least SCALING times as much as the connections grew."""
        expected = prev.rate * (cur.level / prev.level - 1)
        return expected > 0 and cur.rate - prev.rate >= self.tuning.scaling * expected

    def _settle(self, now: float, inputs: Inputs, cap: int) -> int:
        h = self.history
        best = max(x.rate for x in h)
        last_paid = 0  # index of the highest level reached by steps that all paid
        while last_paid + 1 < len(h) and self._paid(h[last_paid], h[last_paid + 1]):
            last_paid += 1
        # Connections the best throughput needs at the per-connection rate of
        # the last level that still scaled (if even the first step did not
        # pay, that level may already have been link-bound: a lower bound).
        ref = h[last_paid]
        need = best / (ref.rate / ref.level) if ref.rate > 0 else ref.level
        if last_paid == 0 and best <= 1.05 * ref.rate:
            target = ref.level  # the first level already filled the link: stay
        else:
            # Headroom: more parts in flight than the need keep the link full
            # while the last parts of a file drain one by one.
            target = min(max(x.level for x in h),
                         max(ref.level, math.ceil(need * self.tuning.headroom)))
        target = max(1, min(cap, target))
        self.settled = True
        log.info("Concurrency settled at %d parts (best %.1f MB/s; level: MB/s %s)", target,
                 best / 1e6, ", ".join(f"{x.level}: {x.rate / 1e6:.1f}" for x in h))
        return self._change(now, inputs, target, "settled")

    def _change(self, now: float, inputs: Inputs, new: int, why: str) -> int:
        if new != self.level:
            log.info("Concurrency %d -> %d (%s)", self.level, new, why)
        self.level = new
        self._changed_at, self._mark = now, None
        self._reread = False
        return new


def unacked_bytes() -> int | None:
    """Bytes this process wrote to TCP sockets that the peers have not
    acknowledged yet (Linux: tx_queue of our sockets in /proc/net/tcp*), or
    None where that cannot be read.

    The byte meter counts what is handed to sockets, and each connection's
    send buffer (a few MB on Linux) takes a burst at a part's start and
    drains at its end; subtracting what is still unacknowledged turns the
    meter into bytes the network took, which measured within a few percent
    of what the server received (tests/bench). Read only at the edges of a
    probe window: with hundreds of sockets on the host it costs ~10 ms."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/self/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        total = 0
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError), open(path) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 9 and fields[9] in inodes:
                        total += int(fields[4].split(":", 1)[0], 16)
        return total
    except (OSError, ValueError):
        return None
