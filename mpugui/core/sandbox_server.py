"""The sandbox's S3 server (moto, in this process, on 127.0.0.1) and its
"network loss": the sandbox lets a new user watch resume within one run by
taking its server off the network and bringing it back.

Off the network means what a lost link means to the engine: the requests
in flight are reset and new connections are refused, so the transfers wait
(journaled, their finished parts kept) and carry on when it is back. The
data stays: moto keeps one in-memory store per process, shared by every
server in it, so the server started again on the same port finds the
bucket and the uploads as they were.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

PRUNE_AT = 256  # connections remembered before the closed ones are dropped


class SandboxServer:
    """moto's S3 on 127.0.0.1:`port`; `stop()` takes it off the network,
    `start()` brings it back on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._moto: Any = None
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()

    @property
    def online(self) -> bool:
        return self._moto is not None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        if self._moto is not None:
            return
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        moto.start()
        # moto's werkzeug server (made before start() returns, before any
        # client knows the port): remember its connections, to reset them.
        wsgi = moto._server
        assert wsgi is not None  # made by start()
        accept = wsgi.get_request

        def get_request() -> tuple[socket.socket, Any]:
            conn, addr = accept()
            with self._lock:
                if len(self._conns) >= PRUNE_AT:
                    self._conns = {c for c in self._conns if c.fileno() != -1}
                self._conns.add(conn)
            return conn, addr

        wsgi.get_request = get_request  # type: ignore[method-assign]
        self._moto = moto

    def stop(self) -> None:
        """Off the network: refuse new connections, reset the open ones."""
        moto, self._moto = self._moto, None
        if moto is None:
            return
        moto.stop()
        # moto's stop() leaves the socket listening (connections would hang
        # in its backlog, not be refused): close it.
        moto._server.server_close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # its handler thread ends on the error
            except OSError:
                pass  # closed already
