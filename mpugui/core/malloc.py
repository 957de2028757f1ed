"""glibc's malloc settings (mallopt), process-wide; a no-op elsewhere (musl,
macOS, Windows have no mallopt). Who sets what, and why, says so where it
calls: the part workers' arenas (core/transfer/body.py), the sender
process's reuse of freed memory (core/s3/sender_child.py)."""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def mallopt(option: int, value: int) -> bool:
    """Set one of glibc's malloc options; False where it could not."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(option, value))
    except (OSError, AttributeError):  # not glibc
        return False
