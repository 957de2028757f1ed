"""Part sizing: how a file of a given size is cut into multipart parts."""

from __future__ import annotations

from dataclasses import dataclass

from mpugui.core.units import GiB, MiB, format_bytes

MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = MAX_PART_SIZE * MAX_PARTS  # 48.8 TiB
# Measured (tests/bench, 1 GiB to a local sink, 2 cores, medians of 3):
# 8 MiB parts 2.37 s wall / 2.26 s CPU / 138 MiB RSS, 16 MiB 2.28 / 2.02 / 185,
# 32 MiB 2.07 / 1.99 / 281. 32 MiB saves ~5% more but doubles the memory per
# part in flight, a crash's re-send and the tail of a slow per-connection link
# (the last parts finish one by one), so 16 MiB.
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_THRESHOLD = 16 * MiB


class PlanError(ValueError):
    """The file cannot be uploaded with these settings; the message says why."""


@dataclass(frozen=True)
class Part:
    number: int  # 1-based, as S3 numbers parts
    offset: int
    size: int


@dataclass(frozen=True)
class Plan:
    size: int
    part_size: int  # 0 for a single PutObject
    multipart: bool

    @property
    def part_count(self) -> int:
        if not self.multipart:
            return 0
        return max(1, -(-self.size // self.part_size))

    def part(self, number: int) -> Part:
        offset = (number - 1) * self.part_size
        return Part(number, offset, min(self.part_size, self.size - offset))

    def parts(self) -> list[Part]:
        return [self.part(n) for n in range(1, self.part_count + 1)]


def make_plan(
    size: int,
    part_size: int = DEFAULT_PART_SIZE,
    threshold: int = DEFAULT_THRESHOLD,
) -> Plan:
    """Plan an upload of `size` bytes.

    Files under `threshold` (0-byte files included) go up as one PutObject.
    Otherwise the part size is raised, in whole MiB, until the file fits in
    10,000 parts.
    """
    if size < 0:
        raise PlanError("A file cannot have a negative size.")
    if size > MAX_OBJECT_SIZE:
        raise PlanError(
            f"The file is {format_bytes(size)}; S3 stores objects up to "
            f"{format_bytes(MAX_OBJECT_SIZE)} (10,000 parts of 5 GiB)."
        )
    if part_size < MIN_PART_SIZE or part_size > MAX_PART_SIZE:
        raise PlanError(
            f"A part size of {format_bytes(part_size)} is outside S3's limits "
            f"({format_bytes(MIN_PART_SIZE)} to {format_bytes(MAX_PART_SIZE)})."
        )
    if size < max(threshold, 1):
        return Plan(size=size, part_size=0, multipart=False)
    if -(-size // part_size) > MAX_PARTS:
        needed = -(-size // MAX_PARTS)
        part_size = min(MAX_PART_SIZE, -(-needed // MiB) * MiB)
    return Plan(size=size, part_size=part_size, multipart=True)
