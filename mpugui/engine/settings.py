"""How the engine is set up: part sizes, concurrency, checksums, retries,
the tick, outages (one EngineSettings per engine)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mpugui.core.s3.checksums import DEFAULT_ALGORITHM
from mpugui.core.s3.plan import DEFAULT_PART_SIZE, DEFAULT_THRESHOLD
from mpugui.core.transfer import outage
from mpugui.core.transfer.adaptive import MAXIMUM, MEMORY_BUDGET
from mpugui.core.transfer.scheduler import (
    PUT_LIMIT,
)

DEFAULT_CONCURRENCY = 0  # 0: found while running (core/transfer/adaptive.py); a number pins it


def default_read_lanes() -> int:
    """Parts read and checksummed at the same time: all cores but one. Reading
    a 16 MiB part (page faults, copy) and its CRC are CPU work without the GIL;
    sixteen parts starting together took both cores of a 2-core machine and
    held the GUI thread off for up to ~250 ms. One core stays for the event
    loop and the network stack; the sends themselves are not limited."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class EngineSettings:
    part_size: int = DEFAULT_PART_SIZE
    threshold: int = DEFAULT_THRESHOLD
    concurrency: int = DEFAULT_CONCURRENCY
    max_concurrency: int = MAXIMUM  # adaptive concurrency's ceiling (a user maximum)
    memory_budget: int = MEMORY_BUDGET  # adaptive: part buffers in flight at most, bytes
    put_concurrency: int = PUT_LIMIT  # small files (one PutObject each) in flight at once
    # Small files sent by a process of their own (core/s3/sender.py), unless
    # MPUGUI_PUT_SENDER says otherwise. The window sends them itself: there
    # the sender's faster pace cost the GUI thread its share of the GIL
    # (100,000 files: 16 s instead of 25, but stalls p99 31 ms instead of 20).
    put_sender_process: bool = True
    checksum: str = DEFAULT_ALGORITHM
    bandwidth_limit: int = 0  # bytes/s, 0 = unlimited
    part_retries: int = 3  # our retries of a part after botocore's own
    retry_base: float = 1.0  # seconds; doubled per failure, with jitter
    tick_ms: int = 100
    # Outages (core/transfer/outage.py): the first probe's delay, doubled per
    # failed probe up to the cap; max_wait None waits for the network forever.
    probe_first: float = outage.FIRST_DELAY
    probe_cap: float = outage.MAX_DELAY
    max_wait: float | None = None
    read_lanes: int = field(default_factory=default_read_lanes)
