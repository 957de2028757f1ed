"""Immutable progress snapshots, published once per tick to the UI and CLI."""

from __future__ import annotations

from dataclasses import dataclass

from mpugui.core.units import format_bytes

PENDING, UPLOADING, DONE, FAILED = "pending", "uploading", "done", "failed"


@dataclass(frozen=True, slots=True)
class PartSnapshot:
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


@dataclass(frozen=True, slots=True)
class TransferSnapshot:
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
        return 1.0 if self.size == 0 and self.state == "done" else (
            self.done_bytes / self.size if self.size else 0.0)


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    transfers: tuple[TransferSnapshot, ...]
    speed: float
    active: int
    queued: int
    failed: int
    concurrency: int
    bandwidth_limit: int
    time: float

    def by_id(self, transfer_id: int) -> TransferSnapshot | None:
        for t in self.transfers:
            if t.id == transfer_id:
                return t
        return None
