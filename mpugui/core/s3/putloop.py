"""Small files' PutObjects from one thread, many at once.

A folder of small files is latency-bound: each file is one round trip. Sent
from worker threads (one blocking request each) the requests were cheap but
the threads were not: 48 threads taking turns at the GIL and at the engine's
lock spent more time waiting for each other than sending (a 10,000-file
folder: 160,000 context switches, the tick thread waiting 14 ms for each lock
it took). Here one thread runs an asyncio loop with up to `limit` requests in
flight on kept-alive connections. It takes jobs from its source in batches
and gives the results back in batches, so the engine's lock is taken once per
batch, not several times per file. Taking a batch (reading, hashing and
signing its files) runs on a reader thread of its own: reads and hashes
release the GIL, so on a second core they overlap the loop's sending
instead of holding it up.

A request this module cannot send itself (a route botocore must handle, a
bandwidth limit, a store that redirects) carries a blocking `fallback`, run
on a small thread pool without holding up the loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import botocore.exceptions as bx

from mpugui.core.s3.smallput import NotForThisRoute, Route, client_error

log = logging.getLogger("mpugui.s3")

FALLBACK_THREADS = 16  # blocking PutObjects (botocore: files over 1 MiB) at once
_MAX_HEAD = 64 * 1024  # response status line and headers
_JOIN_BODY = 64 * 1024  # bodies up to this go out with their headers in one write


@dataclass(slots=True)
class PutRequest:
    """One signed PutObject, ready to send; or, with `route` None, only a
    fallback to run. `fallback` sends the same object the blocking way and
    returns (ETag, retries); it is given the NotForThisRoute that sent it
    there, or None."""

    route: Route | None
    head: bytes  # request line and headers
    body: bytes | memoryview
    url: str
    fallback: Callable[[BaseException | None], tuple[str, int]]
    ssl_context: ssl.SSLContext | None = None


Result = tuple[str, int] | BaseException  # (ETag, retries) or what went wrong


class PutSource(Protocol):
    def take(self, n: int) -> list[tuple[Any, PutRequest | Result]]:
        """Up to `n` jobs with their requests (or an outcome already known).
        Runs on the loop's reader thread, possibly while `done` runs on the
        loop's; every job it takes must come back in its answer."""

    def done(self, results: list[tuple[Any, Result]]) -> None:
        """Finished jobs, in one batch."""


class _Conn:
    __slots__ = ("deadline", "expired", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.deadline = 0.0  # loop time by which the answer must be in
        self.expired = False  # closed by the sweep: its request timed out

    def usable(self) -> bool:
        # An idle connection the server closed has seen EOF: never reuse it
        # (a request is never sent twice here).
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class PutLoop:
    """Sends small PutObjects from its own thread; `wake()` from any thread
    when the source may have work."""

    def __init__(self, source: PutSource, limit: int, connect_timeout: float = 10,
                 read_timeout: float = 60) -> None:
        self._source = source
        self.limit = limit
        self._timeouts = (connect_timeout, read_timeout)
        self._loop = asyncio.new_event_loop()
        self._pool = concurrent.futures.ThreadPoolExecutor(FALLBACK_THREADS,
                                                           thread_name_prefix="mpugui-put")
        self._reader = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="mpugui-put-read")
        self._taking: concurrent.futures.Future[list[Any]] | None = None  # one take at a time
        self._missed = False  # woken while a take ran: take again after it
        self._idle: dict[tuple[str, str], list[_Conn]] = collections.defaultdict(list)
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight = 0  # requests started and not yet finished
        self._busy: set[_Conn] = set()  # connections waiting for an answer
        self._results: list[tuple[Any, Result]] = []
        self._wake_pending = threading.Event()
        self._fallback_lock = threading.Lock()
        self._fallbacks = 0  # fallback requests running on the pool
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mpugui-put-loop", daemon=True)
        self._thread.start()

    # -- any thread -------------------------------------------------------------------

    def wake(self) -> None:
        if self._wake_pending.is_set() or self._stopping:
            return
        self._wake_pending.set()
        try:
            self._loop.call_soon_threadsafe(self._fill)
        except RuntimeError:
            pass  # closed: stopping

    def stop(self, timeout: float = 3.0) -> bool:
        """Cancel what is in flight (the journal keeps those transfers as
        they were), close every connection and end the thread. False when
        the loop, a fallback request or a take still reading files has not
        ended within `timeout`."""
        if not self._stopping:
            self._stopping = True
            try:
                self._loop.call_soon_threadsafe(self._shutdown)
            except RuntimeError:
                pass  # the loop has already closed
            self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        taking = self._taking
        if taking is not None:  # a take still reading files: its jobs are dropped
            concurrent.futures.wait([taking], max(0.0, deadline - time.monotonic()))
        self._reader.shutdown(wait=taking is None or taking.done())
        with self._fallback_lock:
            blocked = self._fallbacks
        return not self._thread.is_alive() and not blocked and \
            (taking is None or taking.done())

    # -- the loop's thread ------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._sweep)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        self._loop.call_soon(self._loop.stop)

    def _sweep(self) -> None:
        """Close the connections whose answer is overdue (their requests fail
        with a read timeout). One sweep a fraction of the timeout, not a timer
        per request: asyncio.timeout() cost a folder's loop more than the
        sending (it and current_task() were a quarter of the loop's time)."""
        t = self._loop.time()
        for conn in [c for c in self._busy if c.deadline <= t]:
            conn.expired = True
            conn.close()
            self._busy.discard(conn)
        if not self._stopping:
            self._loop.call_later(min(1.0, self._timeouts[1] / 4), self._sweep)

    def _fill(self) -> None:
        self._wake_pending.clear()
        if self._stopping:
            return
        if self._taking is not None:
            self._missed = True
            return
        free = self.limit - self._inflight
        if free <= 0:
            return
        taking = self._taking = self._reader.submit(self._source.take, free)
        asyncio.wrap_future(taking, loop=self._loop).add_done_callback(self._taken)

    def _taken(self, taking: asyncio.Future[list[Any]]) -> None:
        self._taking = None
        if self._stopping or taking.cancelled():
            return  # taken, never sent: as if in flight (the journal keeps them)
        if taking.exception() is not None:  # a bug there must not end the loop
            log.error("Taking small files failed", exc_info=taking.exception())
            return
        items = taking.result()
        for job, item in items:
            if isinstance(item, PutRequest):
                self._inflight += 1
                task = self._loop.create_task(self._one(job, item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._finished(job, item)
        if items or self._missed:
            self._missed = False
            self._fill()

    def _finished(self, job: Any, result: Result) -> None:
        if not self._results:
            self._loop.call_soon(self._deliver)
        self._results.append((job, result))

    def _deliver(self) -> None:
        results, self._results = self._results, []
        if self._stopping:
            return
        try:
            self._source.done(results)
        except Exception:  # a bug there must not end the loop
            log.exception("Finishing %d small files failed", len(results))
        self._fill()

    async def _one(self, job: Any, req: PutRequest) -> None:
        try:
            result: Result = await self._send(req)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # every outcome goes back to the engine
            result = exc
        # Free its slot now: the done-callback that discards the task runs
        # after _deliver, whose _fill would see the slot still taken — a burst
        # of results arriving together (an outage refusing every request at
        # once) then left the rest of the queue untaken, with nothing to
        # wake the loop again.
        self._inflight -= 1
        self._finished(job, result)

    async def _send(self, req: PutRequest) -> tuple[str, int]:
        if req.route is None:
            return await self._loop.run_in_executor(self._pool, self._blocking, req, None)
        try:
            return await self._exchange(req, req.route), 0
        except NotForThisRoute as exc:
            return await self._loop.run_in_executor(self._pool, self._blocking, req, exc)

    def _blocking(self, req: PutRequest, refused: BaseException | None) -> tuple[str, int]:
        with self._fallback_lock:  # counted, so stop() can say one is still on the wire
            self._fallbacks += 1
        try:
            return req.fallback(refused)
        finally:
            with self._fallback_lock:
                self._fallbacks -= 1

    async def _exchange(self, req: PutRequest, route: Route) -> str:
        key = (route.scheme, route.netloc)
        conn = self._kept(key) or await self._connect(route, req)
        conn.deadline = self._loop.time() + self._timeouts[1]
        self._busy.add(conn)
        try:
            body = req.body
            if len(body) <= _JOIN_BODY:  # one send and one segment (copying 64 KiB costs less)
                conn.writer.write(req.head + body)
            else:
                conn.writer.write(req.head)
                conn.writer.write(body)
                await conn.writer.drain()  # the transport copies what the socket did not take
            status, reason, headers, data, close = await _response(conn.reader)
        except asyncio.CancelledError:
            conn.close()
            raise
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                OSError) as exc:  # (ConnectionError and ssl.SSLError are OSErrors)
            conn.close()
            if conn.expired:  # closed by the sweep, whatever the close then raised
                raise bx.ReadTimeoutError(endpoint_url=req.url) from exc
            if isinstance(exc, ssl.SSLError):
                raise bx.SSLError(endpoint_url=req.url, error=exc) from exc
            if isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
                raise bx.EndpointConnectionError(endpoint_url=req.url) from exc
            raise bx.ConnectionClosedError(endpoint_url=req.url) from exc
        finally:
            self._busy.discard(conn)
        if close:
            conn.close()
        else:
            self._idle[key].append(conn)
        if status == 200:
            return headers.get("etag", "")
        raise client_error(status, reason, headers, data, "PutObject")

    def _kept(self, key: tuple[str, str]) -> _Conn | None:
        """An idle kept-alive connection (not a coroutine: most requests
        find one, and each await costs the loop)."""
        idle = self._idle[key]
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _connect(self, route: Route, req: PutRequest) -> _Conn:
        host, _, port = route.netloc.rpartition(":")
        if not host or not port.isdigit():  # no port given
            host, port = route.netloc, "443" if route.scheme == "https" else "80"
        host = host.strip("[]")
        try:
            async with asyncio.timeout(self._timeouts[0]):
                reader, writer = await asyncio.open_connection(
                    host, int(port), limit=_MAX_HEAD,
                    ssl=req.ssl_context if route.scheme == "https" else None)
        except TimeoutError as exc:
            raise bx.ConnectTimeoutError(endpoint_url=req.url) from exc
        except ssl.SSLError as exc:
            raise bx.SSLError(endpoint_url=req.url, error=exc) from exc
        except OSError as exc:
            raise bx.EndpointConnectionError(endpoint_url=req.url) from exc
        return _Conn(reader, writer)


async def _response(reader: asyncio.StreamReader
                    ) -> tuple[int, str, dict[str, str], bytes, bool]:
    """One HTTP/1.1 response: status, reason, headers (lower-case names),
    body, and whether the connection ends with it."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        status = int(code)
        if status >= 200:
            break  # 1xx (100 Continue unasked) precede the answer
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    close = version == "HTTP/1.0" or headers.get("connection", "").lower() == "close"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        data = await _chunked(reader)
    elif "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    elif status in (204, 304):
        data = b""
    else:  # until the server closes
        data, close = await reader.read(), True
    return status, reason, headers, data, close


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)

