"""The tick: what changed since the last one, snapshotted (at most
REFRESH_LIMIT transfers a tick) and published as one delta with its events
and totals; the adaptive concurrency's update."""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field
from types import MappingProxyType

from PySide6.QtCore import SIGNAL

from mpugui.core.transfer.adaptive import Inputs
from mpugui.core.transfer.progress import now
from mpugui.core.transfer.snapshot import (
    EngineSnapshot,
    StateEvent,
    TransferSnapshot,
)
from mpugui.engine.jobs import Jobs

# Transfers snapshotted per tick at most: 100,000 restored or added at once
# reach the window over many short ticks instead of one long stall.
REFRESH_LIMIT = 500
OUTAGE_PUBLISH = 1.0  # seconds between snapshots that only move a waiting countdown
RATE_WINDOW = 3.0  # seconds the queue's upload rate is averaged over



@dataclass
class Totals:
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


class Throughput:
    """The queue's upload rate: bytes sent over the last RATE_WINDOW seconds
    (monotonic counts: the part bodies' and the put loop's). A folder of
    small files has no transfer with a speed of its own (each goes up in one
    request, 0 to 100%), yet it moves megabytes a second; the status bar,
    the CLI's bar and its ETA show this."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self.rate = 0.0

    def update(self, t: float, moved: int, busy: bool) -> None:
        samples = self._samples
        if not busy:  # nothing in flight: idle now, not in RATE_WINDOW seconds
            samples.clear()
            self.rate = 0.0
            return
        samples.append((t, moved))
        while len(samples) > 2 and t - samples[0][0] > RATE_WINDOW:
            samples.popleft()
        t0, m0 = samples[0]
        self.rate = (moved - m0) / (t - t0) if t > t0 else 0.0


class Ticks(Jobs):
    _totals: Totals  # sums over the published table
    _throughput: Throughput  # the rate of the whole queue

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
            speed=max(0.0, totals.speed, self._throughput.rate),
            concurrency=self._sched.limit,
            bandwidth_limit=self.limiter.rate, time=now(),
            outages=tuple(self._outage_snapshots()) if self._outages else (),
            live=MappingProxyType(dict(self._live)))

    def publish(self, everything: bool = False) -> EngineSnapshot | None:
        """Emit what changed since the last tick (the tick calls this; the CLI
        calls it with `everything` at the end, so no event is left unsaid)."""
        with self._lock:
            self._refresh(None if everything else REFRESH_LIMIT)
            self._throughput.update(now(), self.limiter.moved + self._put_sent, self._busy())
            changed = tuple(sorted(self._changed.values(), key=lambda s: s.id))
            removed, events = tuple(self._removed), tuple(self._events)
            self._changed, self._removed, self._events = {}, [], []
            countdown = self._outages.any_down() and \
                now() - self._outage_published >= OUTAGE_PUBLISH
            if not (changed or removed or events or self._totals.speed or countdown
                    or self._throughput.rate):
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
