"""The live state of one transfer and its parts, owned by the engine.

Everything here is changed under the engine's lock, except `PartBody.sent`,
which the uploading worker bumps as bytes go out and the tick only reads.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass, field

from mpugui.core.journal.store import DONE, QUEUED, PartRecord, TransferRecord
from mpugui.core.sources import Identity
from mpugui.core.transfer.body import PartBody
from mpugui.core.transfer.checksums import Algorithm, algorithm
from mpugui.core.transfer.plan import Plan
from mpugui.core.transfer.snapshot import (
    DONE as PART_DONE,
)
from mpugui.core.transfer.snapshot import (
    FAILED as PART_FAILED,
)
from mpugui.core.transfer.snapshot import (
    PENDING,
    UPLOADING,
    PartSnapshot,
    TransferSnapshot,
)


@dataclass
class PartProgress:
    number: int
    offset: int
    size: int
    state: str = PENDING
    etag: str | None = None
    checksum: str | None = None
    attempts: int = 0
    failures: int = 0  # failures after botocore gave up, for our own backoff
    not_before: float = 0.0
    started: float = 0.0
    error: str | None = None
    body: PartBody | None = None
    _snap: PartSnapshot | None = field(default=None, repr=False)

    @property
    def sent(self) -> int:
        if self.state == PART_DONE:
            return self.size
        body = self.body
        return body.sent if body is not None else 0

    def snapshot(self, now: float) -> PartSnapshot:
        if self.state != UPLOADING and self._snap is not None:
            return self._snap
        sent = self.sent
        speed = sent / (now - self.started) if self.state == UPLOADING and now > self.started \
            else 0.0
        snap = PartSnapshot(self.number, self.offset, self.size, self.state, sent,
                            self.attempts, speed, self.etag, self.checksum, self.error)
        self._snap = snap
        return snap

    def touch(self) -> None:
        self._snap = None


class Transfer:
    def __init__(self, rec: TransferRecord, plan: Plan, parts: dict[int, PartRecord]) -> None:
        self.rec = rec
        self.plan = plan
        self.algo: Algorithm = algorithm(rec.checksum)
        self.identity = Identity(rec.size, rec.mtime_ns, rec.sample)
        self.state = rec.state
        self.detail = rec.error or ""
        self.cancel = threading.Event()
        self.cancelling = False
        self.prepared = False  # reconciled with the server since the last start
        self.preparing = False
        self.aborting = False
        self.restart_after_abort = False
        self.inflight = 0
        self.fd: int | None = None
        self.retries = 0
        self.wire_bytes = 0
        self.complete_failures = 0
        self.not_before = 0.0
        self.version = 0
        if plan.multipart:
            self.parts = [PartProgress(p.number, p.offset, p.size) for p in plan.parts()]
        else:  # one PutObject, shown as a single part
            self.parts = [PartProgress(1, 0, rec.size)]
        for number, done in parts.items():
            if 1 <= number <= len(self.parts):
                part = self.parts[number - 1]
                part.state, part.etag, part.checksum = PART_DONE, done.etag, done.checksum
        if rec.state == DONE:
            for part in self.parts:
                part.state = PART_DONE
        self._done_bytes = sum(p.size for p in self.parts if p.state == PART_DONE)
        self._samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=40)
        self._snap: TransferSnapshot | None = None
        self._snap_version = -1
        self._parts_snap: list[PartSnapshot] = []

    @property
    def id(self) -> int:
        return self.rec.id

    def changed(self) -> None:
        self.version += 1

    def set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.changed()

    # -- parts bookkeeping (engine lock held) ---------------------------------

    def mark_part(self, part: PartProgress, state: str) -> None:
        if part.state == PART_DONE and state != PART_DONE:
            self._done_bytes -= part.size
        elif part.state != PART_DONE and state == PART_DONE:
            self._done_bytes += part.size
        part.state = state
        part.touch()
        self.changed()

    def pending_part(self, now: float) -> PartProgress | None:
        for part in self.parts:
            if part.state in (PENDING, PART_FAILED) and part.not_before <= now:
                return part
        return None

    def next_wakeup(self) -> float | None:
        times = [p.not_before for p in self.parts if p.state in (PENDING, PART_FAILED)]
        return min(times) if times else None

    def all_parts_done(self) -> bool:
        return all(p.state == PART_DONE for p in self.parts)

    def parts_done(self) -> int:
        return sum(1 for p in self.parts if p.state == PART_DONE)

    def done_records(self) -> list[PartRecord]:
        return [PartRecord(p.number, p.size, p.etag or "", p.checksum)
                for p in self.parts if p.state == PART_DONE]

    def reset_parts(self) -> None:
        for part in self.parts:
            self.mark_part(part, PENDING)
            part.etag = part.checksum = part.error = None
            part.failures = part.attempts = 0

    def close_file(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            finally:
                self.fd = None

    # -- snapshots (engine lock held; called on the tick) ---------------------

    def done_bytes(self) -> int:
        return self._done_bytes + sum(p.sent for p in self.parts if p.state == UPLOADING)

    def snapshot(self, now: float) -> TransferSnapshot:
        uploading = [p for p in self.parts if p.state == UPLOADING]
        if self._snap is not None and self._snap_version == self.version and not uploading \
                and not self._samples:
            return self._snap
        if len(self._parts_snap) != len(self.parts) or self._snap_version != self.version:
            self._parts_snap = [p.snapshot(now) for p in self.parts]
        else:
            for p in uploading:
                self._parts_snap[p.number - 1] = p.snapshot(now)
        done = self.done_bytes()
        speed = self._speed(now, done)
        remaining = self.rec.size - done
        eta = remaining / speed if speed > 0 else None
        self._snap = TransferSnapshot(
            id=self.id, name=os.path.basename(self.rec.source), source=self.rec.source,
            bucket=self.rec.bucket, key=self.rec.key, size=self.rec.size, done_bytes=done,
            speed=speed, eta=eta, state=self.state,
            detail="cancelling…" if self.cancelling else self.detail,
            parts_done=self.parts_done(), parts_total=len(self.parts),
            part_size=self.plan.largest_part or self.rec.size,
            smallest_part=self.plan.smallest_part or self.rec.size, upload_id=self.rec.upload_id,
            checksum=self.rec.checksum, verification=self.rec.verification,
            retries=self.retries, wire_bytes=self.wire_bytes, parts=tuple(self._parts_snap))
        self._snap_version = self.version
        return self._snap

    def _speed(self, now: float, done: int) -> float:
        """Bytes per second over the last few seconds; 0 when not moving."""
        if self.state not in ("uploading", QUEUED) or self.cancel.is_set():
            self._samples.clear()
            return 0.0
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 3.0:
            self._samples.popleft()
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0


def now() -> float:
    return time.monotonic()
