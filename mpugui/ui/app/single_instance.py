"""One running window per state directory, over a local socket.

The window that owns `$MPUGUI_HOME` (it holds the owner lock, see
mpugui.core.journal.owner) listens on a QLocalServer whose name is derived
from the resolved state directory, so two state directories can each have
a window. A second `mpugui [FILE...]` connects first: when a window answers,
it sends `{"files": [absolute paths]}` as one JSON line, waits for the
window's `{"ok": true}` line and exits; the window raises itself and offers
the files (its destination dialog).

The same socket runs CLI commands through the window (mpugui.cli.remote):
the CLI sends `{"command": {...}, "protocol": N}` and the connection stays
open; the window emits `command(request, channel)`, runs it in its engine
and streams JSON lines back over the channel until the `end` line. A
`{"stop": true}` line from the CLI (its Ctrl-C), or the CLI going away,
stops the run.

A socket file left by a crashed window refuses connections; the next window
removes it (QLocalServer.removeServer) and listens in its place. It only
does so while holding the owner lock, so the socket it removes cannot
belong to a live window.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from mpugui.core.errors import MpuguiError
from mpugui.core.instance import PROTOCOL, server_name

__all__ = ["Channel", "InstanceServer", "forward", "server_name"]

log = logging.getLogger("mpugui.ui.instance")

MAX_MESSAGE = 1024 * 1024  # a generous bound on one request (paths are short)


class Channel(QObject):
    """One forwarded command's connection: `send` a message to the CLI;
    `stopped` when the CLI asks to stop or goes away."""

    stopped = Signal()

    def __init__(self, sock: QLocalSocket, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sock = sock
        self.open = True

    def send(self, message: dict[str, Any]) -> None:
        if self.open:
            self.sock.write((json.dumps(message) + "\n").encode("utf-8"))
            if message.get("event") == "end":
                self.sock.flush()
                self.sock.disconnectFromServer()  # after what is buffered is written

    def _stop_asked(self) -> None:
        self.stopped.emit()

    def _gone(self) -> None:
        if self.open:
            self.open = False
            self.stopped.emit()


def forward(home: Path, files: list[str], timeout_ms: int = 5000) -> bool:
    """Hand `files` to the window that owns `home`: True once it has
    acknowledged them, False when no window answers (none runs, or its
    socket is stale)."""
    sock = QLocalSocket()
    sock.connectToServer(server_name(home))
    if not sock.waitForConnected(timeout_ms):
        return False
    try:
        message = json.dumps({"files": [os.path.abspath(f) for f in files]}) + "\n"
        sock.write(message.encode("utf-8"))
        if not sock.waitForBytesWritten(timeout_ms):
            return False
        reply = b""
        while not reply.endswith(b"\n"):
            if not sock.bytesAvailable() and not sock.waitForReadyRead(timeout_ms):
                return False
            reply += bytes(sock.readAll().data())
        try:
            return bool(json.loads(reply).get("ok"))
        except (ValueError, AttributeError):
            return False
    finally:
        sock.abort()


class InstanceServer(QObject):
    """Listens for other `mpugui` starts on the same state directory and
    emits `received(files)` for each (an empty list: just raise the window)."""

    received = Signal(list)
    command = Signal(dict, object)  # a forwarded CLI command, its Channel

    def __init__(self, home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(home)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}
        self._channels: dict[QLocalSocket, Channel] = {}

    def listen(self) -> None:
        """Call while holding the owner lock: any socket of this name is then
        a crashed window's, and is removed first."""
        QLocalServer.removeServer(self.name)
        if not self.server.listen(self.name):
            raise MpuguiError("Another mpugui could not be told to use this window: "
                              f"{self.server.errorString()}.")

    def close(self) -> None:
        self.server.close()
        for sock in [*self._buffers, *self._channels]:
            sock.abort()
        self._buffers.clear()
        self._channels.clear()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))

    def _drop(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        channel = self._channels.pop(sock, None)
        if channel is not None:
            channel._gone()
            channel.deleteLater()  # and the command run it parents
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        channel = self._channels.get(sock)
        if channel is not None:  # a running command: only a stop can come
            if b"stop" in bytes(sock.readAll().data()):
                channel._stop_asked()
            return
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if b"\n" not in data:
            if len(data) > MAX_MESSAGE:
                log.warning("Dropped an oversized request from another mpugui")
                sock.abort()
            else:
                self._buffers[sock] = data
            return
        line = data.split(b"\n", 1)[0]
        try:
            request = json.loads(line)
            if isinstance(request, dict) and "command" in request:
                self._command(sock, request)
                return
            files = request["files"]
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                raise ValueError("files is not a list of paths")
        except (ValueError, KeyError, TypeError):
            log.warning("Ignored a request from another mpugui that is not understood")
            sock.write(b'{"ok": false}\n')
            sock.disconnectFromServer()
            return
        sock.write(b'{"ok": true}\n')
        sock.flush()
        sock.disconnectFromServer()
        self.received.emit(files)

    def _command(self, sock: QLocalSocket, request: dict[str, Any]) -> None:
        self._buffers.pop(sock, None)
        if request.get("protocol") != PROTOCOL or not isinstance(request["command"], dict):
            sock.write(b'{"event": "refused"}\n')
            sock.disconnectFromServer()
            return
        channel = Channel(sock, self)
        self._channels[sock] = channel
        self.command.emit(request["command"], channel)
