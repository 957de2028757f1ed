"""Parsing and formatting of sizes, rates and ages as users type and read them."""

from __future__ import annotations

import re

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": KiB, "kb": 1000, "kib": KiB,
    "m": MiB, "mb": 1000**2, "mib": MiB,
    "g": GiB, "gb": 1000**3, "gib": GiB,
    "t": TiB, "tb": 1000**4, "tib": TiB,
}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 file', '2 files', '10,000 files' (`many` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def parse_size(text: str) -> int:
    """'8MiB', '8M' (binary), '8MB' (decimal), '1048576' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"'{text}' is not a size (examples: 8MiB, 64M, 1GB, 5242880)")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_rate(text: str) -> int:
    """'10MB/s', '512K', '0' (unlimited) -> bytes per second."""
    stripped = text.strip().lower().removesuffix("/s").removesuffix("ps")
    return parse_size(stripped)


def parse_age(text: str) -> float:
    """'36h', '7d', '90m', '2w' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not m:
        raise ValueError(f"'{text}' is not an age (examples: 36h, 7d, 2w)")
    return float(m.group(1)) * _AGE_UNITS[m.group(2)]


def parse_duration(text: str) -> float:
    """'30s', '5m', '2h', '1d', '90' (seconds) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not m:
        raise ValueError(f"'{text}' is not a duration (examples: 90s, 10m, 2h, 1d)")
    return float(m.group(1)) * _AGE_UNITS[m.group(2) or "s"]


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_rate(bps: float) -> str:
    return f"{format_bytes(bps)}/s"


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"
