"""Part sizing: how a file of a given size is cut into multipart parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

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
# A tapered plan's final parts shrink so the last ones finish together: each
# tail part is at most 1/TAPER_WIDTH of the bytes after it (TAPER_WIDTH: the
# default maximum of parts in flight). Part-level work is in lockstep on a
# saturated link: 96 parts over 31 connections left 3 parts of 16 MiB to run
# alone for 17 s at 1 MB/s per connection (the benchmark's wan150: 83 s
# instead of 73 in a quarter of the runs; tapered, 74-75 s every time).
# Changing these changes the plans that journals rebuild: give a new cut a
# new taper number instead.
TAPER_WIDTH = 32
TAPER_V1 = 1


class PlanError(ValueError):
    """The file cannot be uploaded with these settings; the message says why."""


# Parts in flight a person may pin (the destination dialog, --concurrency):
# beyond this, connections and file handles cost more than they bring.
MAX_PINNED_CONCURRENCY = 64


def part_size_problem(size: int) -> str | None:
    """The words for a chosen part size S3 refuses (no full stop), or None:
    the same in the destination dialog and for --part-size."""
    if MIN_PART_SIZE <= size <= MAX_PART_SIZE:
        return None
    return (f"{format_bytes(size)} is outside S3's limits for a part "
            f"({format_bytes(MIN_PART_SIZE)} to {format_bytes(MAX_PART_SIZE)})")


def concurrency_problem(n: int) -> str | None:
    if 1 <= n <= MAX_PINNED_CONCURRENCY:
        return None
    return f"{n} parts at once is outside 1 to {MAX_PINNED_CONCURRENCY}"


@dataclass(frozen=True)
class Part:
    number: int  # 1-based, as S3 numbers parts
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    size: int
    part_size: int  # 0 for a single PutObject; else every part's size but the tail's
    multipart: bool
    taper: int = 0  # 0: equal parts; TAPER_V1: the final parts shrink (tapered_sizes)
    # Tapered plans only: where each part starts, and the end of the file.
    _bounds: tuple[int, ...] = field(default=(), repr=False, compare=False)
    # Smaller than part_size when a tapered plan has no full-size part.
    largest_part: int = field(init=False, repr=False, compare=False)
    # The smallest part but the last (S3 lets the last be any size).
    smallest_part: int = field(init=False, repr=False, compare=False)

    # Slots, and the two sizes computed here rather than cached on first use
    # (a __dict__): a queue of 100,000 small files holds 100,000 plans.
    def __post_init__(self) -> None:
        largest = smallest = self.part_size
        if self.taper and self.multipart:
            sizes = tapered_sizes(self.size, self.part_size)
            object.__setattr__(self, "_bounds", (0, *accumulate(sizes)))
            largest = max(sizes)
            if len(sizes) > 1:
                smallest = min(sizes[:-1])
        object.__setattr__(self, "largest_part", largest)
        object.__setattr__(self, "smallest_part", smallest)

    @property
    def part_count(self) -> int:
        if not self.multipart:
            return 0
        if self._bounds:
            return len(self._bounds) - 1
        return max(1, -(-self.size // self.part_size))

    def part(self, number: int) -> Part:
        if self._bounds:
            start, end = self._bounds[number - 1], self._bounds[number]
            return Part(number, start, end - start)
        offset = (number - 1) * self.part_size
        return Part(number, offset, min(self.part_size, self.size - offset))

    def parts(self) -> list[Part]:
        return [self.part(n) for n in range(1, self.part_count + 1)]


def tapered_sizes(size: int, part_size: int) -> list[int]:
    """Cut `size` bytes into parts of `part_size`, but end with smaller ones.

    Built from the end: each tail part is 1/TAPER_WIDTH of the bytes after it,
    in whole MiB, at least S3's 5 MiB, until that reaches `part_size`. Bytes
    left over at the joint become one more part there, or (under 5 MiB) the
    final part, which S3 lets be any size.
    """
    tail: list[int] = []
    total = 0
    while True:
        cut = min(part_size, max(MIN_PART_SIZE, total // TAPER_WIDTH // MiB * MiB))
        if cut >= part_size or total + cut > size:
            break
        tail.append(cut)
        total += cut
    head, left = divmod(size - total, part_size)
    sizes = [part_size] * head
    if left >= MIN_PART_SIZE:
        sizes.append(left)
    sizes += reversed(tail)
    if 0 < left < MIN_PART_SIZE:
        sizes.append(left)
    return sizes


def make_plan(
    size: int,
    part_size: int = DEFAULT_PART_SIZE,
    threshold: int = DEFAULT_THRESHOLD,
    taper: int = 0,
) -> Plan:
    """Plan an upload of `size` bytes.

    Files under `threshold` (0-byte files included) go up as one PutObject.
    Otherwise the part size is raised, in whole MiB, until the file fits in
    10,000 parts. With `taper`, the final parts shrink (see tapered_sizes),
    unless that would need more than 10,000 parts.
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
    if taper:
        plan = Plan(size=size, part_size=part_size, multipart=True, taper=taper)
        if plan.part_count <= MAX_PARTS:
            return plan
    return Plan(size=size, part_size=part_size, multipart=True)
