"""An emulated WAN in front of the sink: a TCP proxy on 127.0.0.1 that adds
latency (RTT/2 each way), caps every connection's upload rate and caps the
whole link, shared by all connections in arrival order.

How it shapes: each connection's client->server pump reads a small chunk,
reserves transmission time on its own "wire" (per-connection rate) and on the
shared link, sleeps until that transmission would have finished, then hands
the chunk to a writer that delivers it RTT/2 later. The proxy reads no faster
than the shaped rate and its accepted sockets have a small receive buffer, so
the client feels backpressure the way it would on a real uplink. Responses
(small) only get the delay. Not emulated: TCP handshake latency, loss.

Run standalone (the runner does this, so the proxy has its own process and
core share): python -m tests.bench.wan --target 127.0.0.1:PORT --rtt-ms 80
--conn-rate 4e6 --link-rate 40e6   (prints the listening port on stdout)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    rtt_ms: float
    conn_rate: float  # bytes/s per connection, client -> server
    link_rate: float  # bytes/s for all connections together

    @property
    def needed_connections(self) -> float:
        return self.link_rate / self.conn_rate

    @property
    def label(self) -> str:
        return (f"RTT {self.rtt_ms:g} ms, {self.conn_rate / 1e6:g} MB/s per conn, "
                f"{self.link_rate / 1e6:g} MB/s link")


SHAPES = {
    "wan20": Shape(20, 20e6, 100e6),
    "wan40": Shape(40, 20e6, 100e6),  # the many-files shape (wanfiles)
    "wan80": Shape(80, 4e6, 40e6),
    "wan150": Shape(150, 1e6, 24e6),
}

RCVBUF = 256 * 1024
BURST = 0.02  # s of transmission a connection or the link may catch up on


class _Link:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.free_at = 0.0  # when the link has sent everything reserved so far


class WanProxy:
    def __init__(self, target: tuple[str, int], shape: Shape, port: int = 0) -> None:
        self.target = target
        self.shape = shape
        self.port = port
        self.link = _Link(shape.link_rate)
        self.one_way = shape.rtt_ms / 2000.0
        # ~40 ms of one connection's rate per read: few events per MB, fine pacing.
        self.chunk = int(min(256 * 1024, max(16 * 1024, shape.conn_rate / 25)))
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted sockets: no multi-MB loopback buffer that the
        # client could fill at memory speed before the shaping starts.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(512)
        self._server = await asyncio.start_server(self._handle, sock=sock)
        self.port = sock.getsockname()[1]
        return self.port

    async def serve_forever(self) -> None:
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def _handle(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            c_writer.close()
            return
        up = asyncio.ensure_future(self._pump(c_reader, s_writer, shaped=True))
        down = asyncio.ensure_future(self._pump(s_reader, c_writer, shaped=False))
        try:
            await asyncio.wait([up, down], return_when=asyncio.FIRST_EXCEPTION)
            await asyncio.sleep(self.one_way + 0.1)  # let scheduled deliveries land
        finally:
            for t in (up, down):
                t.cancel()
            for w in (c_writer, s_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    shaped: bool) -> None:
        """Read, pace (client->server only), and deliver each chunk RTT/2 after
        its transmission ends. Deliveries are timer callbacks in time order,
        so a chunk costs one read, at most one sleep and one callback."""
        loop = asyncio.get_running_loop()
        wire_free = 0.0
        while True:
            data = await reader.read(self.chunk if shaped else 65536)
            t = loop.time()
            if not data:
                loop.call_at(t + self.one_way, _eof, writer)
                return
            if shaped:
                # Token-bucket accounting with a small burst allowance, so the
                # event loop's own scheduling delays are not lost wire time.
                n = len(data)
                wire_free = max(wire_free, t - BURST) + n / self.shape.conn_rate
                done = wire_free
                if self.link.rate:
                    self.link.free_at = max(self.link.free_at, t - BURST) + n / self.link.rate
                    done = max(done, self.link.free_at)
                if done > t:
                    await asyncio.sleep(done - t)
                t = max(t, done)
            loop.call_at(t + self.one_way, _write, writer, data)


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


def _eof(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        if not writer.is_closing():
            writer.write_eof()


class ProxyThread:
    """The proxy on an event loop in a background thread (for tests)."""

    def __init__(self, target: tuple[str, int], shape: Shape) -> None:
        self.proxy = WanProxy(target, shape)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bench-wan",
                                        daemon=True)

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self.proxy._server is not None:
                self.proxy._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", required=True, help="HOST:PORT of the sink")
    p.add_argument("--rtt-ms", type=float, required=True)
    p.add_argument("--conn-rate", type=float, required=True, help="bytes/s per connection")
    p.add_argument("--link-rate", type=float, required=True, help="bytes/s for the link")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    host, port = args.target.rsplit(":", 1)
    proxy = WanProxy((host, int(port)), Shape(args.rtt_ms, args.conn_rate, args.link_rate),
                     args.port)

    async def run() -> None:
        print(await proxy.start(), flush=True)
        await proxy.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
