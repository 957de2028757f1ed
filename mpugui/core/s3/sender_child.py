"""The small-file sender: a process that reads, checks, checksums, signs and
sends the small files its parent names (core/s3/sender.py tells why).

    python -m mpugui.core.s3.sender_child

Frames in on stdin (the connect and read timeouts first; routes, credentials
and TLS settings once each, then one spec per file), frames out on stdout
(one outcome per file). It sends with a PutLoop of its own, as the parent
would; a request it must not send itself (a redirect: another region) comes
back as the NotForThisRoute, and the parent sends it through botocore. It
ends at the end of stdin, dropping what is in flight, as the parent's loop
does when it stops.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import pickle
import sys
import threading
from typing import Any, NamedTuple

from mpugui.core import malloc
from mpugui.core.s3.checksums import algorithm
from mpugui.core.s3.putloop import PutLoop, PutRequest, Result
from mpugui.core.s3.sender import Frames, Outcome, frame
from mpugui.core.s3.smallput import NotForThisRoute, Route, SmallPut
from mpugui.core.sources import Identity, read_whole

log = logging.getLogger("mpugui.s3")

LIMIT = 100_000  # the parent bounds what is in flight
Token = tuple[int, str | None, str]  # the parent's id, checksum sent, sample read


class _Creds(NamedTuple):  # what the signer reads of botocore's frozen credentials
    access_key: str
    secret_key: str
    token: str | None


def _refuse(refused: BaseException | None) -> tuple[str, int]:
    """The fallback of every request here: the parent sends it through botocore."""
    raise refused or NotForThisRoute("no route here")


class _Source:
    """The child's PutSource: specs from the parent, outcomes back to it."""

    def __init__(self, out_fd: int) -> None:
        self._out = out_fd
        self._lock = threading.Lock()
        self._todo: collections.deque[tuple[Any, ...]] = collections.deque()
        self._routes: dict[int, Route] = {}
        self._creds: dict[int, _Creds] = {}
        self._tls: dict[int, Any] = {}
        self._put = SmallPut()

    def accept(self, items: list[tuple[Any, ...]]) -> None:
        """On the stdin thread: definitions at once, specs for `take`."""
        specs = []
        for item in items:
            kind = item[0]
            if kind == "p":
                specs.append(item)
            elif kind == "r":
                self._routes[item[1]] = item[2]
            elif kind == "c":
                self._creds[item[1]] = _Creds(*item[2])
            elif kind == "t":
                self._tls[item[1]] = self._put.context_for(item[2])
        with self._lock:
            self._todo.extend(specs)

    def take(self, n: int) -> list[tuple[Any, PutRequest | Result]]:
        with self._lock:
            todo = self._todo
            batch = [todo.popleft() for _ in range(min(n, len(todo)))]
        out: list[tuple[Any, PutRequest | Result]] = []
        for spec in batch:
            try:
                out.append(self._request(spec))
            except Exception as exc:  # the file (changed, gone): failed like a send
                out.append(((spec[1], None, ""), exc))
        return out

    def _request(self, spec: tuple[Any, ...]) -> tuple[Token, PutRequest]:
        _p, jid, rid, cid, tid, path, size, planned, like, algo_name, key, headers = spec
        route = self._routes[rid]
        data, sample = read_whole(path, size, Identity(*planned), like)
        algo = algorithm(algo_name)
        checksum = algo.value(data)
        header = algo.header(checksum)
        if header is not None:
            headers = dict(headers)  # (one frame may hold one dict for many specs)
            headers[header[0]] = header[1]
        payload = hashlib.sha256(data).hexdigest() if route.sign_payload else None
        url, head = self._put.request(route, self._creds[cid], key, size, headers, payload)
        return (jid, checksum, sample), PutRequest(route, head, data, url, _refuse,
                                                   self._tls.get(tid))

    def done(self, results: list[tuple[Token, Result]]) -> None:
        outcomes: list[Outcome] = [(jid, result, checksum, sample)
                                   for (jid, checksum, sample), result in results]
        try:
            data = frame(outcomes)
        except Exception:  # an error that does not pickle: its sentence does
            data = frame([(jid, _plain(r), c, s) for jid, r, c, s in outcomes])
        view = memoryview(data)
        while view:
            view = view[os.write(self._out, view):]


def _plain(result: Any) -> Any:
    if not isinstance(result, BaseException):
        return result
    try:
        pickle.dumps(result)
        return result
    except Exception:
        return RuntimeError(f"{type(result).__name__}: {result}")


def keep_freed_memory() -> None:
    """Bodies of up to 1 MiB from the heap, and freed heap kept for the next
    ones. glibc mmaps allocations above its threshold (128 KiB at first) and
    gives the top of the heap back beyond another: each 256 KiB body then came
    in fresh pages, faulted in by the read (2,000 x 256 KiB: 0.93 -> 0.83 s
    wall with this). What is kept is bounded by what the parent lets be in
    flight (its put_concurrency: 128 requests of at most 1 MiB by default)."""
    malloc.mallopt(malloc.M_MMAP_THRESHOLD, 2 << 20)  # above the largest body
    malloc.mallopt(malloc.M_TRIM_THRESHOLD, 128 << 20)  # what a full window holds


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="mpugui sender: %(levelname)s %(message)s")
    keep_freed_memory()
    out_fd = os.dup(1)  # the frames' own: nothing printed can get into them
    os.dup2(2, 1)
    source = _Source(out_fd)
    # Ready: what comes now is sent at once. (It may be started before its
    # parent knows its settings: see sender_spawn.start_early.)
    os.write(out_fd, frame([]))
    frames = Frames()
    loop: PutLoop | None = None
    while True:
        data = os.read(0, 1 << 20)
        if not data:
            break
        items = frames.feed(data)
        if loop is None and items:
            _o, connect_timeout, read_timeout = items.pop(0)
            loop = PutLoop(source, LIMIT, connect_timeout, read_timeout)
        source.accept(items)
        if loop is not None:
            loop.wake()
    os._exit(0)  # what is in flight is dropped: the parent has gone or stopped us


if __name__ == "__main__":
    sys.exit(main())
