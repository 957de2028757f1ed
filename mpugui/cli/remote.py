"""`mpugui upload|resume|cancel` while the window owns the journal: the
command runs through the window (mpugui.engine.command_run over the
window's local socket), so its transfers show there and are uploaded by
the one engine that owns them; this process prints what the command prints
when it runs itself (the same Reporter, plain or --json) and returns the
same exit code.

Ctrl-C or SIGTERM asks the window to pause the command's transfers, as the
command's own Ctrl-C does (exit 3). When no window answers (it is quitting,
or speaks another protocol), the caller refuses with exit 5 as before.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from mpugui.core.instance import PROTOCOL, server_name
from mpugui.core.paths import state_dir
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.transfer.feeder import FeedRequest

if TYPE_CHECKING:
    from mpugui.core.s3.endpoint import Endpoint

CONNECT_MS = 2000
WAIT_MS = 100  # a read waits at most this long, so a Ctrl-C is seen at once


def request_from_args(args: argparse.Namespace,
                      endpoint_from_args: Callable[[argparse.Namespace], Endpoint]
                      ) -> dict[str, Any]:
    """What the window needs to run the command (no secret: an account is
    named, its secret stays in the keyring)."""
    notes = []
    if getattr(args, "bwlimit", 0) or getattr(args, "concurrency", None):
        notes.append("--bwlimit and --concurrency do not apply through the window; "
                     "its own settings do.")
    if getattr(args, "max_wait", None) is not None:
        notes.append("--max-wait does not apply through the window; its setting "
                     "(Settings ▸ When the network is down) does.")
    if args.command == "upload":
        *sources, dest = args.paths
        if not sources:
            from mpugui.core.errors import MpuguiError

            raise MpuguiError("Give at least one file or folder and an s3:// destination.")
        bucket, key = parse_s3_uri(dest)
        skip = args.skip_existing
        if skip is None:  # as cli.transfers.start_upload: on for folders
            skip = any(os.path.isdir(s) for s in sources)
        feed = FeedRequest([os.path.abspath(s) for s in sources], bucket, key,
                           endpoint_from_args(args), part_size=args.part_size,
                           checksum=args.checksum, storage_class=args.storage_class,
                           no_overwrite=args.no_overwrite, skip_existing=skip)
        return {"command": "upload", "feed": feed.to_json(), "notes": notes}
    if args.command == "resume" and not args.all and not args.ids:
        from mpugui.core.errors import MpuguiError

        raise MpuguiError("Name transfer IDs to resume, or use --all.")
    ids = None if getattr(args, "all", False) else list(args.ids)
    return {"command": args.command, "ids": ids, "restart": bool(getattr(args, "restart", False)),
            "notes": notes}


class _Records:
    """What the Reporter asks of an engine, from the window's state lines."""

    def __init__(self) -> None:
        self.records: dict[int, SimpleNamespace] = {}

    def has(self, tid: int) -> bool:
        return tid in self.records

    def record(self, tid: int) -> SimpleNamespace:
        return self.records[tid]


def run(args: argparse.Namespace,
        endpoint_from_args: Callable[[argparse.Namespace], Endpoint],
        reporter: Callable[..., Any]) -> int | None:
    """Run the command through the window; its exit code, or None when no
    window takes it (the caller then refuses). mpugui.cli hands in its
    endpoint options' reader and its Reporter (the same output as when it
    runs the command itself)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtNetwork import QLocalSocket

    request = request_from_args(args, endpoint_from_args)  # usage errors before anything is sent
    _app = QCoreApplication.instance() or QCoreApplication(["mpugui"])
    sock = QLocalSocket()
    sock.connectToServer(server_name(state_dir()))
    if not sock.waitForConnected(CONNECT_MS):
        return None
    sock.write((json.dumps({"protocol": PROTOCOL, "command": request}) + "\n").encode())
    sock.flush()
    records = _Records()
    out = reporter(sys.stdout, args.json, records)
    state = {"stop": False, "asked": False}

    def stop(signum: int, _frame: object) -> None:
        if not state["stop"]:
            state["stop"] = True
            out.warn(f"{signal.Signals(signum).name}: pausing; resume with `mpugui resume --all`.")

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _follow(sock, out, records, state)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        sock.abort()


def _follow(sock: Any, out: Any, records: _Records, state: dict[str, bool]) -> int | None:
    """Read the window's lines until its `end`; render them with `out`."""
    from PySide6.QtNetwork import QLocalSocket

    buffer, events, last = b"", [], SimpleNamespace(done=0, total=0, done_bytes=0,
                                                      total_bytes=0, speed=0.0, changed=())
    started = False
    while True:
        if state["stop"] and not state["asked"]:
            state["asked"] = True
            sock.write(b'{"stop": true}\n')
            sock.flush()
        if b"\n" not in buffer:
            if not sock.bytesAvailable() and not sock.waitForReadyRead(WAIT_MS):
                if sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
                    if started:  # the window went away mid-command
                        out.problem("The window stopped before the command ended; its "
                                    "transfers stay resumable (mpugui resume --all).")
                        return 3
                    return None
                continue
            buffer += bytes(sock.readAll().data())
            continue
        line, buffer = buffer.split(b"\n", 1)
        try:
            msg = json.loads(line)
            kind = msg.get("event")
        except (ValueError, AttributeError):
            kind = None
        if kind is None and not started:
            return None  # a window that does not run commands (another version)
        if kind is None:
            continue
        started = True
        if kind == "refused":
            return None
        if kind == "state":
            records.records[msg["id"]] = SimpleNamespace(
                source=msg["source"], uri=msg["destination"], upload_id=msg["upload_id"])
            events.append(SimpleNamespace(id=msg["id"], state=msg["state"],
                                          detail=msg["detail"]))
        elif kind == "tick":
            last = SimpleNamespace(done=msg["done"], total=msg["total"],
                                   done_bytes=msg["done_bytes"],
                                   total_bytes=msg["total_bytes"], speed=msg["speed"],
                                   changed=[SimpleNamespace(**t) for t in msg["moving"]])
            out.on_snapshot(SimpleNamespace(**vars(last), events=events))
            events = []
        elif kind == "problem":
            out.problem(msg["text"], msg.get("cause"), msg.get("path", ""))
        elif kind == "line":
            out.line(msg["text"])
        elif kind == "error":
            print(f"mpugui: {msg['text']}", file=sys.stderr)
            return int(msg.get("code", 2))
        elif kind == "end":
            if events:
                out.on_snapshot(SimpleNamespace(**vars(last), events=events))
            feeders = [SimpleNamespace(counts=SimpleNamespace(
                skipped=msg["skipped"], walked=msg["walked"], problems=msg["problems"]),
                note=note) for note in (msg["notes"] or [None])]
            # the counts belong to one walk: the extra entries carry only notes
            for f in feeders[1:]:
                f.counts = SimpleNamespace(skipped=0, walked=0, problems=0)
            out.summary(SimpleNamespace(counts=msg["counts"], retries=msg["retries"],
                                        wire_bytes=msg["wire_bytes"]), feeders)
            return int(msg["code"])
