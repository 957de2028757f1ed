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

Each connection is an asyncio Protocol that parses its answer as the bytes
arrive (core/s3/answer.py) and hands it to the loop: no task, stream or
future per request (those were the loop's largest costs once it sent
thousands of files a second). Only opening a connection is a coroutine.

A request this module cannot send itself (a route botocore must handle, a
bandwidth limit, a store that redirects) carries a blocking `fallback`, run
on a small thread pool without holding up the loop.

The engine's loop forwards most requests to a sender process instead
(core/s3/sender.py): a spec names the file, that process reads, signs and
sends it with a PutLoop of its own, and its answers come back here as if
this loop had sent them. Taking then reads no file, so it runs on this
loop's thread, not the reader's.
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

from mpugui.core.s3.answer import Answer, AnswerParser
from mpugui.core.s3.sender import ChildSender, Outcome, Spec
from mpugui.core.s3.smallput import NotForThisRoute, Route, client_error

log = logging.getLogger("mpugui.s3")

FALLBACK_THREADS = 16  # blocking PutObjects (botocore: files over 1 MiB) at once
_MAX_HEAD = 64 * 1024  # response status line and headers
_JOIN_BODY = 64 * 1024  # bodies up to this go out with their headers in one write
STUCK_MARGIN = 10.0  # seconds past both timeouts the sender process may take to answer


@dataclass(slots=True)
class PutRequest:
    """One signed PutObject, ready to send; or, with `route` None, only a
    fallback to run; or, with a `spec`, one for the sender process to read,
    sign and send (no head, no body here), which tells `received` the
    checksum it sent and the sample of what it read. `fallback` sends the
    same object the blocking way and returns (ETag, retries); it is given
    the NotForThisRoute that sent it there, or None."""

    route: Route | None
    head: bytes  # request line and headers
    body: bytes | memoryview
    url: str
    fallback: Callable[[BaseException | None], tuple[str, int]]
    ssl_context: ssl.SSLContext | None = None
    spec: Spec | None = None
    received: Callable[[str | None, str], None] | None = None


Result = tuple[str, int] | BaseException  # (ETag, retries) or what went wrong


class PutSource(Protocol):
    def take(self, n: int) -> list[tuple[Any, PutRequest | Result]]:
        """Up to `n` jobs with their requests (or an outcome already known).
        Runs on the loop's reader thread, possibly while `done` runs on the
        loop's (or, while the loop forwards to the sender process, on the
        loop's own); every job it takes must come back in its answer."""

    def done(self, results: list[tuple[Any, Result]]) -> None:
        """Finished jobs, in one batch."""


class _Conn(asyncio.Protocol):
    """One kept-alive connection, with at most one request on it."""

    def __init__(self, loop: PutLoop, key: tuple[str, str]) -> None:
        self._owner, self.key = loop, key
        self.transport: asyncio.Transport | None = None
        self.deadline = 0.0  # loop time by which the answer must be in
        self.expired = False  # closed by the sweep: its request timed out
        self.lost = False  # closed, or the server ended it: never reused
        self.job: Any = None  # the request on it, waiting for its answer
        self.req: PutRequest | None = None
        self._parser: AnswerParser | None = None

    def send(self, job: Any, req: PutRequest) -> None:
        self.job, self.req = job, req
        self._parser = AnswerParser(_MAX_HEAD)
        assert self.transport is not None
        body = req.body
        if len(body) <= _JOIN_BODY:  # one send and one segment (copying 64 KiB costs less)
            self.transport.write(req.head + body)
        else:  # the transport keeps what the socket does not take at once
            self.transport.write(req.head)
            self.transport.write(body)

    def usable(self) -> bool:
        # An idle connection the server closed has seen EOF: never reuse it
        # (a request is never sent twice here).
        return not self.lost and self.transport is not None and \
            not self.transport.is_closing()

    def close(self) -> None:
        """At once, unsent bytes dropped: a stalled server may never take
        them, and a transport's close() waits for them before it ends."""
        self.lost = True
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio's calls ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # nothing was asked: the connection is not in step
            self.close()
            return
        try:
            answer = parser.feed(data)
        except ValueError as exc:
            self._end(exc)
            return
        if answer is not None:
            assert self.transport is not None
            if self.transport.get_write_buffer_size():
                # Answered before the whole body went out: what is left
                # would be read as another request.
                answer = answer._replace(close=True)
            self._end(answer)

    def eof_received(self) -> bool:
        self.lost = True
        if self._parser is not None:
            answer = self._parser.end()
            self._end(answer if answer is not None else
                      ConnectionResetError("the server closed the connection"))
        return False  # and the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._parser is not None:
            self._end(exc or ConnectionResetError("the connection was closed"))

    def _end(self, outcome: Answer | BaseException) -> None:
        self._parser = None
        self._owner._answered(self, outcome)


class PutLoop:
    """Sends small PutObjects from its own thread; `wake()` from any thread
    when the source may have work."""

    def __init__(self, source: PutSource, limit: int, connect_timeout: float = 10,
                 read_timeout: float = 60, child: bool = False) -> None:
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
        # `child`: requests with a spec go to a sender process (core/s3/sender.py).
        self._child = ChildSender(self._loop, self._timeouts, self._child_answered,
                                  self._child_lost) if child else None
        # By id, in the order sent: what the child has, and since when.
        self._forwarded: dict[int, tuple[Any, PutRequest, float]] = {}
        self._prepared = False
        self._next_id = 0
        self._thread = threading.Thread(target=self._run, name="mpugui-put-loop", daemon=True)
        self._thread.start()

    # -- any thread -------------------------------------------------------------------

    @property
    def forwarding(self) -> bool:
        """Whether the source should give specs for the sender process; else
        it builds its requests here: that process is still starting (a small
        folder is done before it is ready), could not start or has ended."""
        child = self._child
        return child is not None and child.alive and child.ready

    @property
    def sender_pid(self) -> int | None:
        """The sender process's pid, while it runs."""
        return self._child.pid if self._child is not None else None

    def prepare(self) -> None:
        """Small files are coming: start the sender process now, so that it is
        ready when the first of them is taken (it takes ~0.2 s to start)."""
        if self._child is not None and not self._prepared and not self._stopping:
            self._prepared = True
            try:
                self._loop.call_soon_threadsafe(self._child.start)
            except RuntimeError:
                pass  # closed: stopping

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
        if self._child is not None:
            self._child.reap(max(0.0, deadline - time.monotonic()))
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
        if self._child is not None:  # what it has in flight is dropped, as ours is
            self._child.close()
        for task in list(self._tasks):  # connecting
            task.cancel()
        for conn in list(self._busy):  # their answers are not waited for
            conn.close()
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
        if self._forwarded and self._child is not None:
            # Its own sweep answers every request within the timeouts: one
            # unanswered for longer means the process is stuck.
            _job, _req, sent = next(iter(self._forwarded.values()))
            if t - sent > sum(self._timeouts) + STUCK_MARGIN:
                log.warning("The small-file sender has not answered for %.0f s", t - sent)
                self._child.close()
                self._child_lost()
        if not self._stopping:
            self._loop.call_later(min(1.0, self._timeouts[1] / 4), self._sweep)

    def _fill(self) -> None:
        self._wake_pending.clear()
        if self._stopping:
            return
        if self._taking is not None:
            self._missed = True
            return
        if self._child is not None and not self._child.started:
            self._child.start()  # (without prepare(): transfers restored, not added)
        if self.forwarding:  # taking reads no file: here, not on the reader thread
            while not self._stopping and self.limit > self._inflight:
                try:
                    items = self._source.take(self.limit - self._inflight)
                except Exception:  # a bug there must not end the loop
                    log.exception("Taking small files failed")
                    return
                self._start_all(items)
                if not items:
                    return
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
        self._start_all(items)
        if items or self._missed:
            self._missed = False
            self._fill()

    def _start_all(self, items: list[tuple[Any, PutRequest | Result]]) -> None:
        for job, item in items:
            if isinstance(item, PutRequest):
                self._inflight += 1
                self._start(job, item)
            else:
                self._finished(job, item)
        if self._child is not None:
            self._child.flush()

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

    def _end(self, job: Any, result: Result) -> None:
        # Its slot is free at once: a burst of results arriving together (an
        # outage refusing every request) must leave room for _deliver's _fill.
        self._inflight -= 1
        self._finished(job, result)

    def _start(self, job: Any, req: PutRequest) -> None:
        if req.spec is not None:
            self._forward(job, req, req.spec)
            return
        route = req.route
        if route is None:
            self._fall_back(job, req, None)
            return
        conn = self._kept((route.scheme, route.netloc))
        if conn is not None:
            self._send_on(conn, job, req)
            return
        task = self._loop.create_task(self._connect_and_send(job, req, route))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forward(self, job: Any, req: PutRequest, spec: Spec) -> None:
        child = self._child
        if child is not None and child.alive:
            jid = self._next_id
            self._next_id += 1
            try:
                child.forward(jid, spec)
            except ConnectionError:
                pass  # it could not start: botocore sends this one
            else:
                self._forwarded[jid] = (job, req, self._loop.time())
                return
        self._fall_back(job, req, None)

    def _child_answered(self, outcomes: list[Outcome]) -> None:
        for jid, result, checksum, sample in outcomes:
            entry = self._forwarded.pop(jid, None)
            if entry is None:
                continue
            job, req, _sent = entry
            if req.received is not None:
                try:
                    req.received(checksum, sample)
                except Exception:  # a bug there must not end the loop
                    log.exception("Taking a small file's checksum and sample failed")
            if isinstance(result, NotForThisRoute):
                self._fall_back(job, req, result)
            else:
                self._end(job, result)

    def _child_lost(self) -> None:
        """The sender process ended: what it had goes through botocore (a PUT
        it may have sent already is sent again: the same object)."""
        forwarded, self._forwarded = self._forwarded, {}
        for job, req, _sent in forwarded.values():
            self._fall_back(job, req, None)

    def _send_on(self, conn: _Conn, job: Any, req: PutRequest) -> None:
        conn.deadline = self._loop.time() + self._timeouts[1]
        self._busy.add(conn)
        conn.send(job, req)

    def _answered(self, conn: _Conn, outcome: Answer | BaseException) -> None:
        """A connection's answer (or what ended it) to the request on it."""
        self._busy.discard(conn)
        job, req = conn.job, conn.req
        conn.job = conn.req = None
        assert req is not None
        if isinstance(outcome, BaseException):
            conn.close()
            self._end(job, self._error(conn, req, outcome))
            return
        if outcome.close:
            conn.close()
        else:
            self._idle[conn.key].append(conn)
        if outcome.status == 200:
            self._end(job, (outcome.headers.get("etag", ""), 0))
            return
        error = client_error(outcome.status, outcome.reason, outcome.headers, outcome.body,
                             "PutObject")
        if isinstance(error, NotForThisRoute):
            self._fall_back(job, req, error)
        else:
            self._end(job, error)

    @staticmethod
    def _error(conn: _Conn, req: PutRequest, exc: BaseException) -> BaseException:
        """What a connection's failure is, as botocore says it."""
        if conn.expired:  # closed by the sweep, whatever the close then raised
            error: BaseException = bx.ReadTimeoutError(endpoint_url=req.url)
        elif isinstance(exc, ssl.SSLError):
            error = bx.SSLError(endpoint_url=req.url, error=exc)
        elif isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
            error = bx.EndpointConnectionError(endpoint_url=req.url)
        else:  # reset, closed early, or an answer that is not HTTP
            error = bx.ConnectionClosedError(endpoint_url=req.url)
        error.__cause__ = exc
        return error

    def _fall_back(self, job: Any, req: PutRequest, refused: BaseException | None) -> None:
        try:
            done = self._loop.run_in_executor(self._pool, self._blocking, req, refused)
        except RuntimeError as exc:  # the pool is shut down: stopping
            self._end(job, exc)
            return

        def fell_back(f: asyncio.Future[tuple[str, int]]) -> None:
            if not f.cancelled():
                self._end(job, f.exception() or f.result())

        done.add_done_callback(fell_back)

    def _blocking(self, req: PutRequest, refused: BaseException | None) -> tuple[str, int]:
        with self._fallback_lock:  # counted, so stop() can say one is still on the wire
            self._fallbacks += 1
        try:
            return req.fallback(refused)
        finally:
            with self._fallback_lock:
                self._fallbacks -= 1

    def _kept(self, key: tuple[str, str]) -> _Conn | None:
        """An idle kept-alive connection."""
        idle = self._idle[key]
        while idle:
            conn = idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _connect_and_send(self, job: Any, req: PutRequest, route: Route) -> None:
        try:
            conn = await self._connect(route, req)
        except asyncio.CancelledError:
            raise  # stopping: taken, never sent (the journal keeps it)
        except BaseException as exc:  # every outcome goes back to the engine
            self._end(job, exc)
            return
        if self._stopping:  # connected as the loop stops: never sent
            conn.close()
            return
        self._send_on(conn, job, req)

    async def _connect(self, route: Route, req: PutRequest) -> _Conn:
        host, _, port = route.netloc.rpartition(":")
        if not host or not port.isdigit():  # no port given
            host, port = route.netloc, "443" if route.scheme == "https" else "80"
        host = host.strip("[]")
        key = (route.scheme, route.netloc)
        try:
            async with asyncio.timeout(self._timeouts[0]):
                _transport, conn = await self._loop.create_connection(
                    lambda: _Conn(self, key), host, int(port),
                    ssl=req.ssl_context if route.scheme == "https" else None)
        except TimeoutError as exc:
            raise bx.ConnectTimeoutError(endpoint_url=req.url) from exc
        except ssl.SSLError as exc:
            raise bx.SSLError(endpoint_url=req.url, error=exc) from exc
        except OSError as exc:
            raise bx.EndpointConnectionError(endpoint_url=req.url) from exc
        return conn
