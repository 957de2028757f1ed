"""Immutable progress snapshots, published once per tick to the UI and CLI.

A tick publishes what changed, not what exists: `EngineSnapshot.changed`
holds the transfers whose snapshot is new since the previous tick, `removed`
the ids that left the queue, `events` every state change in the order it
happened, and the totals are kept by the engine as transfers change. A
consumer that missed a tick (its `seq` is not the next one) rebuilds from
`table`, the engine's latest snapshot of every transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from mpugui.core.states import ACTIVE_STATES, DONE, FAILED, QUEUED, WAITING
from mpugui.core.units import format_bytes


# Named tuples, not frozen dataclasses: as immutable, and a tick makes
# thousands (a frozen dataclass of 21 fields took 15 µs to build, this 0.5).
class PartSnapshot(NamedTuple):
    number: int
    offset: int
    size: int
    state: str
    sent: int
    attempts: int
    speed: float
    etag: str | None
    checksum: str | None
    error: str | None


class TransferSnapshot(NamedTuple):
    id: int
    name: str
    source: str
    bucket: str
    key: str
    size: int
    done_bytes: int
    speed: float
    eta: float | None
    state: str
    detail: str  # the error sentence, or what is happening ("cancelling…")
    parts_done: int
    parts_total: int
    part_size: int  # the largest part
    smallest_part: int  # the smallest but the last: below part_size when the plan tapers
    upload_id: str | None
    checksum: str
    verification: str | None
    retries: int  # part attempts beyond the first, botocore's and ours
    wire_bytes: int  # bytes handed to the network, re-sends included
    parts: tuple[PartSnapshot, ...]
    # Bytes of the parts the server has acknowledged (done_bytes also counts
    # bodies still in flight); -1 where a caller did not say (then done_bytes).
    acked_bytes: int = -1

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def part_sizes(self) -> str:
        """'16.0 MiB', or '5.0–16.0 MiB' when the final parts are smaller."""
        if self.smallest_part < self.part_size:
            return f"{format_bytes(self.smallest_part).split()[0]}–{format_bytes(self.part_size)}"
        return format_bytes(self.part_size)

    @property
    def fraction(self) -> float:
        """Progress as the server sees it: a part sent but not yet answered
        does not count (48 of 54 parts done never reads 100%)."""
        acked = self.done_bytes if self.acked_bytes < 0 else self.acked_bytes
        return 1.0 if self.size == 0 and self.state == DONE else (
            acked / self.size if self.size else 0.0)


# A StateEvent's state when its transfer left the queue (not a transfer state).
REMOVED = "removed"


class StateEvent(NamedTuple):
    id: int
    state: str  # the state entered (REMOVED when the transfer left the queue)
    detail: str  # the sentence that came with it (a failure's reason)


@dataclass(frozen=True, slots=True)
class OutageSnapshot:
    """An endpoint that does not answer; its transfers wait (state "waiting")."""

    endpoint: str  # the endpoint's label (account, profile or URL)
    reason: str  # the latest failure, as a sentence
    waiting: int  # transfers waiting on it
    retry_in: float  # seconds until the next probe (0: probing or due)
    down_for: float  # seconds since requests to it began failing
    probing: bool

    def sentence(self) -> str:
        when = "retrying now" if self.probing or self.retry_in < 0.5 else \
            f"retrying in {self.retry_in:.0f} s"
        return f"Waiting for the network — {when}. {self.reason}"


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    seq: int  # 1, 2, 3 ... per published tick; a gap means a consumer missed one
    changed: tuple[TransferSnapshot, ...]  # new or changed since the previous tick, by id
    removed: tuple[int, ...]
    events: tuple[StateEvent, ...]  # every state change since the previous tick, in order
    # The engine's latest snapshot of every transfer, by id in queue order.
    # Owned and updated by the engine on its thread: read it there, don't keep it.
    table: Mapping[int, TransferSnapshot]
    counts: Mapping[str, int]  # transfers per state
    total_bytes: int
    done_bytes: int
    retries: int
    wire_bytes: int
    speed: float
    concurrency: int
    bandwidth_limit: int
    time: float
    outages: tuple[OutageSnapshot, ...] = ()  # endpoints down now (a few, not per transfer)
    # Transfers per state as of now. `counts` sums the table, which a tick
    # refreshes a bounded number of transfers at a time: it lags while a
    # folder of empty files finishes thousands a second; these do not.
    live: Mapping[str, int] = field(default_factory=dict)

    def by_id(self, transfer_id: int) -> TransferSnapshot | None:
        return self.table.get(transfer_id)

    def count(self, *states: str) -> int:
        return sum(self.counts.get(s, 0) for s in states)

    def live_count(self, *states: str) -> int:
        counts = self.live or self.counts
        return sum(counts.get(s, 0) for s in states)

    @property
    def total(self) -> int:
        return len(self.table)

    @property
    def active(self) -> int:
        return self.count(*ACTIVE_STATES)

    @property
    def queued(self) -> int:
        return self.count(QUEUED)

    @property
    def waiting(self) -> int:
        return self.count(WAITING)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def done(self) -> int:
        return self.count(DONE)
