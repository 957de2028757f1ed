"""The body of one UploadPart: a part's bytes, already in memory, served to
botocore as a seekable stream that counts progress, honours the bandwidth
limit and raises when the transfer is paused or cancelled."""

from __future__ import annotations

import io
import mmap
import os
import threading
import time
from typing import TYPE_CHECKING

from mpugui.core import malloc
from mpugui.core.errors import Interrupted, SourceChanged
from mpugui.core.s3.endpoint import SEND_BLOCK
from mpugui.core.transfer.bandwidth import RateLimiter

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class PartBuffer:
    """Memory for one part, reused from part to part.

    An anonymous mmap: creating one touches no page, so the worker does not
    hold the GIL while hundreds of MiB are zero-filled (a bytearray does: 16
    parts starting at once stalled the GUI thread for ~300 ms). The kernel
    fills the pages inside preadv, with the GIL released.
    """

    def __init__(self) -> None:
        self._map: mmap.mmap | None = None

    @property
    def capacity(self) -> int:
        return len(self._map) if self._map is not None else 0

    def view(self, size: int) -> memoryview:
        if self._map is None or len(self._map) < size:
            # A view of the old map may still be alive (a failed attempt's
            # traceback holds it until the GC runs): it keeps that map alive
            # on its own, so just stop using it.
            self._map = mmap.mmap(-1, max(size, mmap.PAGESIZE))
        return memoryview(self._map)[:size]


def read_range(fd: int, offset: int, size: int, buffer: PartBuffer, path: str) -> memoryview:
    """Positional read of [offset, offset+size) into `buffer` (reused across
    parts, so memory stays at one part per part in flight)."""
    view = buffer.view(size)
    got = 0
    while got < size:
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            raise SourceChanged(f"'{path}' became shorter while it was being uploaded.")
        got += n
    return view


# Bounds of one read() of a part body (see PartBody._chunk_limit).
MIN_CHUNK = 16 * 1024
MAX_CHUNK = SEND_BLOCK  # one socket write of the request body (core/s3/endpoint.py)
CHUNK_SECONDS = 0.2


class Flag:
    """A stop flag a body checks between chunks: threading.Event's is_set/set
    without its Condition and lock (a queue holds 100,000 of these)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` (the bandwidth limiter's wait), waking within
        ~20 ms of set(); True when set."""
        end = time.monotonic() + timeout
        while not self._set:
            left = end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(0.02, left))
        return self._set


class PartBody(io.RawIOBase):
    """A read-only, seekable view of a part for botocore.

    botocore rewinds it (seek) to retry; reads check `cancel`. A chunk counts
    as sent (`sent`: the part's progress, read by the engine's timer; `total`;
    the shared byte meter) at the next read, once the caller's sendall() has
    put it in the socket: counted when handed out, a chunk still waiting for
    socket room made the adaptive controller's rate wrong by up to a chunk per
    connection.
    """

    def __init__(self, data: memoryview, cancel: Flag | threading.Event,
                 limiter: RateLimiter | None = None) -> None:
        super().__init__()
        self._data = data
        self._pos = 0
        self._cancel = cancel
        self._limiter = limiter
        self._began: float | None = None  # when the first chunk was handed over
        self._handed = 0  # the last chunk handed out, not yet counted
        self.sent = 0  # bytes handed to the socket in the current attempt
        self.total = 0  # bytes handed over in all attempts (re-sends included)

    def _chunk_limit(self) -> int:
        """How much one read may hand over: what this part moves in about
        CHUNK_SECONDS, so a pause or cancel (seen between chunks) lands within
        about that on a slow link, while a fast one gets big chunks (each
        chunk is a trip through Python that takes the GIL)."""
        now = time.monotonic()
        if self._began is None:
            self._began = now
        elapsed = now - self._began
        if elapsed <= 0:
            return MIN_CHUNK
        return max(MIN_CHUNK, min(MAX_CHUNK, int(self.total / elapsed * CHUNK_SECONDS)))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data)}[whence]
        self._pos = max(0, min(len(self._data), base + offset))
        self._handed = 0  # a rewind: that chunk's fate is unknown, do not count it
        self.sent = self._pos
        return self._pos

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int = -1) -> memoryview:
        # A slice of the part's buffer, not a copy: http.client/urllib3 hand
        # it straight to socket.sendall() before asking for the next one, and
        # the buffer is not reused until upload_part() has returned. Copying
        # each chunk (.tobytes()) cost a pass over every byte for nothing.
        if self._handed:
            # The caller asks for more: the previous chunk is in the socket.
            if self._limiter is not None:
                self._limiter.count(self._handed)
            self.total += self._handed
            self.sent = self._pos
            self._handed = 0
        if self._cancel.is_set():
            raise Interrupted()
        if size is None or size < 0:
            end = len(self._data)
        else:
            end = min(len(self._data), self._pos + size, self._pos + self._chunk_limit())
        if self._limiter is not None and self._limiter.rate:
            end = min(end, self._pos + max(16 * 1024, self._limiter.rate // 20))
            self._limiter.consume(end - self._pos, self._cancel)
            if self._cancel.is_set():
                raise Interrupted()
        chunk = self._data[self._pos:end]
        self._handed = end - self._pos
        self._pos = end
        return chunk

    def readinto(self, b: WriteableBuffer) -> int:
        view = memoryview(b)
        chunk = self.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas (a process-wide setting; call it
    before the worker threads start). Each thread otherwise gets its own
    arena, and each arena keeps ~1.4 MiB of freed memory: measured 644 MiB
    peak RSS for 32 parts in flight, 601 MiB with two arenas. Part buffers are
    large enough to be mmapped, so two arenas cost the workers nothing."""
    malloc.mallopt(malloc.M_ARENA_MAX, arenas)  # (failure is harmless)


class BufferPool:
    """Part buffers shared by all workers. A worker takes one for each part
    and gives it back after; idle buffers beyond the current concurrency are
    dropped. So part memory follows the parts in flight, not the number of
    worker threads that ever ran one (adaptive concurrency moves both)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[PartBuffer] = []

    def take(self) -> PartBuffer:
        with self._lock:
            return self._idle.pop() if self._idle else PartBuffer()

    def give(self, buffer: PartBuffer, keep: int, max_size: int) -> None:
        """Keep `buffer` for the next part unless `keep` buffers are already
        idle or it grew past `max_size` (a huge part passed)."""
        if buffer.capacity > max_size:
            return
        with self._lock:
            if len(self._idle) < keep:
                self._idle.append(buffer)

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

