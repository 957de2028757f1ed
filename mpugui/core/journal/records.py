"""What the journal stores: a transfer's row and a finished part's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.plan import DEFAULT_PART_SIZE, Plan, make_plan
from mpugui.core.states import QUEUED


@dataclass(slots=True)
class TransferRecord:
    source: str
    bucket: str
    key: str
    endpoint: Endpoint
    size: int
    mtime_ns: int
    sample: str
    part_size: int
    multipart: bool
    checksum: str
    taper: int = 0  # the plan's taper (core/s3/plan.py): resume rebuilds the same parts
    storage_class: str | None = None
    content_type: str | None = None
    no_overwrite: bool = False
    upload_id: str | None = None
    state: str = QUEUED
    error: str | None = None
    verification: str | None = None  # the sentence (core/transfer/verify.py: describe)
    final_etag: str | None = None
    evidence: str | None = None  # what verified it, as core/transfer/verify.py's tokens
    position: float = 0.0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    id: int = 0

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def plan(self) -> Plan:
        """The parts this transfer is cut into (rebuilt from the row, the same
        every time: resume depends on it)."""
        return make_plan(self.size, self.part_size or DEFAULT_PART_SIZE,
                         threshold=0 if self.multipart else self.size + 1, taper=self.taper)


@dataclass(frozen=True)
class PartRecord:
    number: int
    size: int
    etag: str
    checksum: str | None
