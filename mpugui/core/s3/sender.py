"""Small files' sending in a process of its own: the parent's end.

A folder of small files is CPU-bound on a few cores, and every thread of one
Python process shares one GIL: reading, checking, checksumming and signing
each file, then sending it and parsing its answer, took as much CPU as the
rest of the engine together (10,000 x 4 KiB: ~1 s of ~2.5). Here that work
runs in a child process (core/s3/sender_child.py, a PutLoop of its own)
while this process keeps what must be in one place: the scheduler, the state
moves, the journal, botocore's fallbacks and the verdicts.

The parent writes specs (what to send, not the bytes: the child reads the
file) and reads back (ETag or error, checksum, sample), both in batches over
pipes, as length-prefixed pickle frames. The child exits when its stdin
closes, so it ends with this process however that ends (SIGKILL included).
Credentials go over the pipe, never in argv or the environment.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from mpugui.core.s3 import sender_spawn
from mpugui.core.s3.smallput import Route, Tls

log = logging.getLogger("mpugui.s3")

_HEADER = struct.Struct(">I")


class Spec(NamedTuple):
    """One small file to send: where, as whom, and what was planned of it."""

    route: Route
    creds: tuple[str, str, str | None]  # access key, secret key, session token
    tls: Tls | None  # None for http
    path: str
    size: int
    planned: tuple[int, int, str]  # the Identity it was planned with: size, mtime_ns, sample
    like: str  # the kind of sample to take
    algo: str  # checksum algorithm's name
    key: str
    headers: dict[str, str]


# The child's answer per file: (ETag, retries) or what went wrong; the
# checksum it sent; the sample of what it read ("" when it read nothing).
Outcome = tuple[int, Any, str | None, str]


def frame(items: list[Any]) -> bytes:
    data = pickle.dumps(items, protocol=5)
    return _HEADER.pack(len(data)) + data


class Frames:
    """Splits a byte stream into the frames' items."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buf = self._buf
        buf += data
        items: list[Any] = []
        at = 0
        while len(buf) - at >= _HEADER.size:
            (n,) = _HEADER.unpack_from(buf, at)
            end = at + _HEADER.size + n
            if len(buf) < end:
                break
            items += pickle.loads(memoryview(buf)[at + _HEADER.size:end])
            at = end
        if at:
            del buf[:at]
        return items


class _Answers(asyncio.Protocol):
    def __init__(self, owner: ChildSender) -> None:
        self._owner = owner
        self._frames = Frames()

    def data_received(self, data: bytes) -> None:
        try:
            outcomes = self._frames.feed(data)
        except Exception:  # not our frames: the child is of no use any more
            log.exception("The small-file sender answered nonsense")
            self._owner.lost()
            self._owner.close()
            return
        self._owner.answered(outcomes)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.lost()


class ChildSender:
    """Spawned at the first spec; used from the PutLoop's thread only.
    `on_answer` gets each file's Outcome; `on_lost`, once, that the child
    is gone and what was forwarded will not be answered."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeouts: tuple[float, float],
                 on_answer: Callable[[list[Outcome]], None], on_lost: Callable[[], None]) -> None:
        self._loop, self._timeouts = loop, timeouts
        self._on_answer, self._on_lost = on_answer, on_lost
        self._proc: sender_spawn.Child | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._reader: asyncio.ReadTransport | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._early: list[bytes] = []  # frames written before the pipe is connected
        self._out: list[tuple[Any, ...]] = []  # what the next flush writes
        self._ids: dict[Any, int] = {}  # route, credentials, TLS settings the child knows
        self.alive = True  # False once it could not start or has gone
        self.ready = False  # it has said so: its imports are done
        self._closing = False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and self.alive and proc.poll() is None else None

    @property
    def started(self) -> bool:
        return self._proc is not None

    def start(self) -> bool:
        """Spawn it, once; False when it could not start (or has ended)."""
        if self._proc is None and self.alive:
            self._spawn()
        return self.alive

    def forward(self, jid: int, spec: Spec) -> None:
        if not self.start():
            raise ConnectionError("the small-file sender is not running")
        out = self._out
        ids = (self._intern("r", spec.route), self._intern("c", spec.creds),
               self._intern("t", spec.tls))
        out.append(("p", jid, *ids, spec.path, spec.size, spec.planned, spec.like, spec.algo,
                    spec.key, spec.headers))

    def flush(self) -> None:
        if not self._out or not self.alive:
            return
        data, self._out = frame(self._out), []
        if self._writer is None:
            self._early.append(data)
        else:
            self._writer.write(data)

    def close(self) -> None:
        """At once: what is in flight there is dropped (as the loop drops its
        own connections' requests when it stops)."""
        self._closing = True
        self.alive = False
        if self._writer is not None and not self._writer.is_closing():
            self._writer.abort()
        if self._reader is not None and not self._reader.is_closing():
            self._reader.close()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def reap(self, timeout: float) -> None:
        if self._proc is not None:
            sender_spawn.reap(self._proc, timeout)

    # -- the loop's calls ---------------------------------------------------------------

    def answered(self, outcomes: list[Outcome]) -> None:
        self.ready = True  # (its first frame is an empty one, once it can work)
        if not self._closing and outcomes:
            self._on_answer(outcomes)

    def lost(self) -> None:
        self.alive = False
        if self._closing:  # ended from here: nobody waits for its answers
            return
        self._closing = True
        log.warning("The small-file sender ended (exit %s); small files are sent from "
                    "this process from now on",
                    self._proc.poll() if self._proc is not None else None)
        self._on_lost()

    def _intern(self, kind: str, value: Any) -> int:
        if value is None:
            return -1
        key = (kind, value)
        n = self._ids.get(key)
        if n is None:
            n = self._ids[key] = len(self._ids)
            self._out.append((kind, n, value))
        return n

    def _spawn(self) -> None:
        try:  # the one started with the command (sender_spawn.start_early), else a new one
            self._proc = sender_spawn.take() or sender_spawn.spawn()
        except OSError:
            log.warning("The small-file sender could not start", exc_info=True)
            self.alive = False
            return
        self._early.append(frame([("o", *self._timeouts)]))  # its first item: the timeouts
        self._connecting = self._loop.create_task(self._connect())  # (held: not collected)

    async def _connect(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            self._reader, _ = await self._loop.connect_read_pipe(lambda: _Answers(self),
                                                                 proc.stdout)
            writer, _ = await self._loop.connect_write_pipe(asyncio.Protocol, proc.stdin)
        except OSError:
            log.warning("The small-file sender's pipes failed", exc_info=True)
            self.lost()
            self.close()
            return
        if self._closing:  # closed while connecting
            writer.abort()
            self.close()
            return
        for data in self._early:  # in order, before any later frame
            writer.write(data)
        self._early.clear()
        self._writer = writer
