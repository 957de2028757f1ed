"""The live state of one transfer and its parts, owned by the engine.

Everything here is changed under the engine's lock, except `PartBody.sent`,
which the uploading worker bumps as bytes go out and the tick only reads.
Every query the scheduler and the tick make is O(1) or O(parts uploading):
pending parts wait in a heap, parts in flight in a dict, finished ones are
counted, so a 10,000-part file costs no scan per part.
"""

from __future__ import annotations

import collections
import heapq
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from mpugui.core.journal.store import PartRecord, TransferRecord
from mpugui.core.s3.checksums import Algorithm, algorithm
from mpugui.core.s3.plan import Plan
from mpugui.core.sources import Identity
from mpugui.core.states import DONE, MOVING_STATES, QUEUED, UPLOADING, PartState
from mpugui.core.transfer.body import Flag, PartBody
from mpugui.core.transfer.snapshot import PartSnapshot, TransferSnapshot


@dataclass(slots=True, eq=False)
class PartProgress:
    number: int
    offset: int
    size: int
    state: str = PartState.PENDING
    etag: str | None = None
    checksum: str | None = None
    attempts: int = 0
    failures: int = 0  # failures after botocore gave up, for our own backoff
    not_before: float = 0.0
    started: float = 0.0
    error: str | None = None
    body: PartBody | None = None
    snap: PartSnapshot | None = None

    @property
    def sent(self) -> int:
        if self.state == PartState.DONE:
            return self.size
        body = self.body
        return body.sent if body is not None else 0

    def snapshot(self, now: float) -> PartSnapshot:
        if self.state != PartState.UPLOADING and self.snap is not None:
            return self.snap
        sent = self.sent
        speed = sent / (now - self.started) if self.state == PartState.UPLOADING and \
            now > self.started else 0.0
        snap = PartSnapshot(self.number, self.offset, self.size, self.state, sent,
                            self.attempts, speed, self.etag, self.checksum, self.error)
        self.snap = snap
        return snap


def _ignore(_t: Transfer) -> None:
    pass


# Shared empties: never written (Transfer.mark_part replaces them first).
_NONE_UPLOADING: dict[int, PartProgress] = {}
_NONE_PENDING: list[tuple[float, int]] = []


class Transfer:
    __slots__ = (
        "_done_bytes",
        "_done_count",
        "_on_change",
        "_parts_snap",
        "_pending",
        "_samples",
        "_snap",
        "_snap_version",
        "aborting",
        "algo",
        "cancel",
        "cancelling",
        "complete_failures",
        "detail",
        "fd",
        "inflight",
        "not_before",
        "parts",
        "plan",
        "prepared",
        "queued_in",
        "rec",
        "restart_after_abort",
        "retries",
        "state",
        "uploading",
        "version",
        "wire_bytes",
    )

    def __init__(self, rec: TransferRecord, plan: Plan, parts: dict[int, PartRecord],
                 on_change: Callable[[Transfer], None] = _ignore) -> None:
        self.rec = rec
        self.plan = plan
        self.algo: Algorithm = algorithm(rec.checksum)
        self.state = rec.state
        self.detail = rec.error or ""
        self.cancel = Flag()
        self.cancelling = False
        self.prepared = False  # reconciled with the server since the last start
        self.aborting = False
        self.restart_after_abort = False
        self.inflight = 0
        self.fd: int | None = None
        self.retries = 0
        self.wire_bytes = 0
        self.complete_failures = 0
        self.not_before = 0.0
        self.version = 0
        self.queued_in = 0  # the scheduler's: which ready queue holds it (0: none)
        self._on_change = on_change
        if plan.multipart:
            self.parts = [PartProgress(p.number, p.offset, p.size) for p in plan.parts()]
        else:  # one PutObject, shown as a single part
            self.parts = [PartProgress(1, 0, rec.size)]
        final = rec.state == DONE
        for number, done in parts.items():
            if 1 <= number <= len(self.parts):
                part = self.parts[number - 1]
                part.state, part.etag, part.checksum = PartState.DONE, done.etag, done.checksum
        if final:
            for part in self.parts:
                part.state = PartState.DONE
        # Empty ones are shared (_NONE_UPLOADING, _NONE_PENDING), replaced by
        # a list or dict of its own on the first write (mark_part): a queue of
        # 100,000 finished small files keeps no empty containers.
        self.uploading: dict[int, PartProgress] = _NONE_UPLOADING
        self._pending: list[tuple[float, int]] = [
            (0.0, p.number) for p in self.parts if p.state != PartState.DONE] or _NONE_PENDING
        done_parts = [p for p in self.parts if p.state == PartState.DONE]
        self._done_count = len(done_parts)
        self._done_bytes = sum(p.size for p in done_parts)
        # made at the first speed sample: an empty deque is ~600 bytes, and a
        # queue of 100,000 mostly waits
        self._samples: collections.deque[tuple[float, int]] | None = None
        self._snap: TransferSnapshot | None = None
        self._snap_version = -1
        self._parts_snap: list[PartSnapshot] | None = None  # multipart: updated in place

    @property
    def id(self) -> int:
        return self.rec.id

    def changed(self) -> None:
        self.version += 1
        self._on_change(self)

    def set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.changed()

    # -- parts bookkeeping (engine lock held) ---------------------------------

    def mark_part(self, part: PartProgress, state: str, not_before: float = 0.0) -> None:
        old = part.state
        if old == state and state != PartState.PENDING:
            return
        if old == PartState.DONE:
            self._done_count -= 1
            self._done_bytes -= part.size
        elif old == PartState.UPLOADING:
            self.uploading.pop(part.number, None)
            if not self.uploading:
                self.uploading = _NONE_UPLOADING  # an emptied dict keeps its table
        if state == PartState.DONE:
            self._done_count += 1
            self._done_bytes += part.size
        elif state == PartState.UPLOADING:
            if self.uploading is _NONE_UPLOADING:
                self.uploading = {}
            self.uploading[part.number] = part
        elif state == PartState.PENDING:
            # (again) on the heap; an older entry of the same part goes stale
            part.not_before = not_before
            if self._pending is _NONE_PENDING:
                self._pending = []
            heapq.heappush(self._pending, (not_before, part.number))
        part.state = state
        part.snap = None
        self.changed()

    def reset_pending(self) -> None:
        """Every part not done is pending now (resume, restart, reconcile)."""
        for part in self.parts:
            if part.state != PartState.DONE and part.state != PartState.UPLOADING:
                part.state, part.not_before, part.snap = PartState.PENDING, 0.0, None
        self._pending = [(0.0, p.number) for p in self.parts if p.state == PartState.PENDING] \
            or _NONE_PENDING
        self.changed()

    def pending_part(self, now: float) -> PartProgress | None:
        """The lowest-numbered part due now, taken off the heap."""
        heap = self._pending
        while heap:
            not_before, number = heap[0]
            part = self.parts[number - 1]
            if part.state != PartState.PENDING or part.not_before != not_before:
                heapq.heappop(heap)  # stale: sent, or pushed again with a new time
                continue
            if not_before > now:
                return None
            heapq.heappop(heap)
            if not heap:
                self._pending = _NONE_PENDING
            return part
        return None

    def has_pending(self) -> bool:
        return bool(self._pending)

    def next_wakeup(self) -> float | None:
        return self._pending[0][0] if self._pending else None

    def all_parts_done(self) -> bool:
        return self._done_count == len(self.parts)

    def parts_done(self) -> int:
        return self._done_count

    def done_records(self) -> list[PartRecord]:
        return [PartRecord(p.number, p.size, p.etag or "", p.checksum)
                for p in self.parts if p.state == PartState.DONE]

    def reset_parts(self) -> None:
        for part in self.parts:
            part.state, part.snap = PartState.PENDING, None
            part.etag = part.checksum = part.error = None
            part.failures = part.attempts = 0
            part.not_before = 0.0
        self.uploading = _NONE_UPLOADING
        self._done_count = self._done_bytes = 0
        self._pending = [(0.0, p.number) for p in self.parts]
        self.changed()

    @property
    def identity(self) -> Identity:
        """What the file was when planned (from the record: not kept twice)."""
        rec = self.rec
        return Identity(rec.size, rec.mtime_ns, rec.sample)

    def close_file(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            finally:
                self.fd = None

    # -- snapshots (engine lock held; called on the tick) ---------------------

    def done_bytes(self) -> int:
        return self._done_bytes + sum(p.sent for p in self.uploading.values())

    def snapshot(self, now: float) -> TransferSnapshot:
        uploading = self.uploading
        snap = self._snap
        if snap is not None and self._snap_version == self.version and not uploading \
                and not self._samples:
            return snap
        parts = self.parts
        if len(parts) == 1:  # a small file: most of a big folder (no list kept)
            parts_snap: tuple[PartSnapshot, ...] = (parts[0].snapshot(now),)
        else:
            kept = self._parts_snap
            if kept is None or len(kept) != len(parts) or self._snap_version != self.version:
                kept = self._parts_snap = [p.snapshot(now) for p in parts]
            else:
                for p in uploading.values():
                    kept[p.number - 1] = p.snapshot(now)
            parts_snap = tuple(kept)
        done = self.done_bytes() if uploading else self._done_bytes
        speed = self._speed(now, done)
        rec = self.rec
        size = rec.size
        if snap is None:
            name = os.path.basename(rec.source)
            part_size = smallest = size  # one PutObject
            if self.plan.multipart:
                part_size, smallest = self.plan.largest_part, self.plan.smallest_part
        else:  # what never changes comes from the last snapshot
            name, part_size, smallest = snap.name, snap.part_size, snap.smallest_part
        # positional, in TransferSnapshot's field order (a tick may make thousands)
        self._snap = TransferSnapshot(
            rec.id, name, rec.source, rec.bucket, rec.key, size, done, speed,
            (size - done) / speed if speed > 0 else None, self.state,
            "cancelling…" if self.cancelling else self.detail, self._done_count, len(parts),
            part_size, smallest, rec.upload_id, rec.checksum, rec.verification, self.retries,
            self.wire_bytes, parts_snap, self._done_bytes)
        self._snap_version = self.version
        return self._snap

    def _speed(self, now: float, done: int) -> float:
        """Bytes per second over the last few seconds; 0 when not moving."""
        if self.state not in (UPLOADING, QUEUED) or self.cancel.is_set():
            self._samples = None
            return 0.0
        samples = self._samples
        if samples is None:
            if not self.uploading:
                return 0.0  # not started: no samples yet
            samples = self._samples = collections.deque(maxlen=40)
        samples.append((now, done))
        while len(samples) > 2 and now - samples[0][0] > 3.0:
            samples.popleft()
        (t0, b0), (t1, b1) = samples[0], samples[-1]
        return max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0

    def is_moving(self) -> bool:
        """Work queued or running (the engine is busy while any transfer is)."""
        return bool(self.inflight or self.cancelling or self.aborting
                    or self.state in MOVING_STATES)


def now() -> float:
    return time.monotonic()
