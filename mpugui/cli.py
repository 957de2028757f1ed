"""The command line: the same engine as the window, under QCoreApplication.

Exit codes: 0 everything done; 1 a transfer failed (it stays resumable);
2 bad usage or input (nothing lost); 3 interrupted by Ctrl-C/SIGTERM (paused,
resume with `mpugui resume`); 4 the journal or settings cannot be used.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from mpugui import __version__
from mpugui.core import paths
from mpugui.core.accounts import AccountStore
from mpugui.core.endpoint import ClientFactory, Endpoint, validate_endpoint_url
from mpugui.core.errors import MpuguiError
from mpugui.core.journal.store import CANCELLED, DONE, FAILED, PAUSED, Journal, JournalError
from mpugui.core.logsetup import setup_logging
from mpugui.core.s3uri import parse_s3_uri
from mpugui.core.sources import collect
from mpugui.core.transfer.checksums import ALGORITHMS, DEFAULT_ALGORITHM
from mpugui.core.transfer.plan import DEFAULT_PART_SIZE, PlanError
from mpugui.core.units import format_bytes, format_duration, format_rate, parse_rate, parse_size

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_JOURNAL = 0, 1, 2, 3, 4

log = logging.getLogger("mpugui.cli")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse type that keeps our sentence instead of 'invalid value'."""
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


SIZE, RATE = _typed(parse_size), _typed(parse_rate)


def _endpoint_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (default: the standard AWS chain)")
    g.add_argument("--account", help="a saved account (as added in the app)")
    g.add_argument("--profile", help="an AWS config profile (SSO included)")
    g.add_argument("--endpoint-url", help="an S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    g.add_argument("--region")
    g.add_argument("--path-style", action="store_true", help="path-style addressing")
    g.add_argument("--checksum-when-required", action="store_true",
                   help="send checksums only where S3 requires them (for stores that "
                        "reject botocore's default CRC32)")
    g.add_argument("--equal-parts", action="store_true",
                   help="cut every part but the last to one size (for stores that require "
                        "it; Cloudflare R2 is detected from the URL)")
    g.add_argument("--ca-bundle", help="a CA bundle file for TLS verification")
    g.add_argument("--no-verify-ssl", action="store_true",
                   help="do not verify TLS certificates (unsafe)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mpugui", description="S3 multipart upload manager. "
                     "Without a command, opens the window.")
    parser.add_argument("--version", action="version", version=f"mpugui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log detail to stderr")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    up = sub.add_parser("upload", help="upload files and folders",
                        description="Upload files and folders (recursively) to S3.")
    up.add_argument("paths", nargs="+", metavar="SOURCE... s3://BUCKET[/KEY_OR_PREFIX]")
    _endpoint_options(up)
    up.add_argument("--part-size", type=SIZE,
                    help=f"part size, e.g. 16MiB (default {format_bytes(DEFAULT_PART_SIZE)}, "
                         "raised automatically so a file fits in 10,000 parts)")
    up.add_argument("--concurrency", type=int,
                    help="parts in flight at once (default: adaptive, found while running)")
    up.add_argument("--checksum", choices=sorted(ALGORITHMS), default=None,
                    help=f"per-part integrity checksum (default {DEFAULT_ALGORITHM})")
    up.add_argument("--storage-class", help="e.g. STANDARD_IA, GLACIER_IR")
    up.add_argument("--no-overwrite", action="store_true",
                    help="fail instead of replacing an existing object (If-None-Match: *)")
    up.add_argument("--bwlimit", type=RATE, default=0,
                    help="bandwidth limit for all parts together, e.g. 10MB/s")
    up.add_argument("--json", action="store_true", help="one JSON object per line")

    tr = sub.add_parser("transfers", help="list journaled transfers")
    tr.add_argument("--json", action="store_true")

    rs = sub.add_parser("resume", help="resume paused, failed or interrupted transfers")
    rs.add_argument("ids", nargs="*", type=int, metavar="ID")
    rs.add_argument("--all", action="store_true", help="every unfinished transfer")
    rs.add_argument("--restart", action="store_true",
                    help="start over: abort the old upload and send the whole file again")
    rs.add_argument("--concurrency", type=int)
    rs.add_argument("--bwlimit", type=RATE, default=0)
    rs.add_argument("--json", action="store_true")

    ca = sub.add_parser("cancel", help="cancel transfers and delete their parts from the bucket")
    ca.add_argument("ids", nargs="+", type=int, metavar="ID")
    ca.add_argument("--json", action="store_true")

    from mpugui import uploads_cli  # the in-progress uploads commands

    uploads_cli.add_parser(sub, _endpoint_options)
    return parser


def endpoint_from_args(args: argparse.Namespace) -> Endpoint:
    if getattr(args, "account", None):
        endpoint = AccountStore().get(args.account).endpoint()
    else:
        endpoint = Endpoint(profile=args.profile)
    changes: dict[str, Any] = {}
    if args.profile:
        changes["profile"] = args.profile
    if args.endpoint_url:
        validate_endpoint_url(args.endpoint_url)
        changes["endpoint_url"] = args.endpoint_url
    if args.region:
        changes["region"] = args.region
    if args.path_style:
        changes["path_style"] = True
    if args.checksum_when_required:
        changes["checksum_when_required"] = True
    if args.equal_parts:
        changes["equal_parts"] = True
    if args.ca_bundle:
        if not os.path.isfile(args.ca_bundle):
            raise MpuguiError(f"The CA bundle '{args.ca_bundle}' does not exist.")
        changes["ca_bundle"] = args.ca_bundle
    if args.no_verify_ssl:
        changes["verify_tls"] = False
    endpoint = endpoint.with_(**changes)
    if not endpoint.verify_tls:  # by the flag or by the account's setting: always said
        print("warning: TLS certificates will not be verified.", file=sys.stderr)
    return endpoint


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"mpugui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        setup_logging(args.verbose)
        if args.command == "uploads":
            from mpugui import uploads_cli

            return uploads_cli.run(args)
        journal = Journal(paths.journal_path())
        if args.command == "transfers":
            return _transfers(journal, args)
        return _run_engine(journal, args)
    except JournalError as exc:
        print(f"mpugui: {exc}", file=sys.stderr)
        return EXIT_JOURNAL
    except (MpuguiError, PlanError) as exc:
        print(f"mpugui: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _transfers(journal: Journal, args: argparse.Namespace) -> int:
    rows = []
    for rec in journal.transfers():
        parts = journal.parts(rec.id)
        total = rec.plan().part_count if rec.multipart else 1
        done = total if rec.state == DONE else len(parts)
        rows.append({"id": rec.id, "source": rec.source, "destination": rec.uri,
                     "size": rec.size, "state": rec.state, "parts_done": done,
                     "parts_total": total, "upload_id": rec.upload_id, "error": rec.error,
                     "endpoint": rec.endpoint.label()})
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return EXIT_OK
    if not rows:
        print("No transfers in the journal.")
    for r in rows:
        line = (f"{r['id']:>5}  {r['state']:<10} {r['parts_done']:>5}/{r['parts_total']:<5} "
                f"{format_bytes(r['size']):>10}  {r['source']} → {r['destination']}")
        if r["error"]:
            line += f"\n       {r['error']}"
        print(line)
    return EXIT_OK


def _run_engine(journal: Journal, args: argparse.Namespace) -> int:
    # Qt is imported here so `mpugui transfers` and `--help` stay quick.
    from PySide6.QtCore import QCoreApplication

    from mpugui.engine.engine import EngineSettings, TransferEngine, UploadRequest

    app = QCoreApplication.instance() or QCoreApplication(["mpugui"])
    settings = EngineSettings(bandwidth_limit=getattr(args, "bwlimit", 0) or 0)
    if getattr(args, "concurrency", None):
        if args.concurrency < 1:
            raise MpuguiError("--concurrency must be at least 1.")
        settings.concurrency = args.concurrency
    engine = TransferEngine(journal, ClientFactory(settings.concurrency + 4), settings)
    out = Reporter(sys.stdout, args.json)
    # Connected before any transfer starts: a transfer that fails at once
    # still reports its state (a queued signal only reaches connected slots).
    on_state = functools.partial(out.state, engine)
    engine.snapshot.connect(out.progress)
    engine.state_changed.connect(on_state)
    skipped = False
    ids: list[int] = []
    try:
        if args.command == "upload":
            ids, skipped = _queue_uploads(engine, args, out, UploadRequest)
        else:
            wanted = None if getattr(args, "all", False) else args.ids
            if args.command == "resume" and not args.all and not args.ids:
                raise MpuguiError("Name transfer IDs to resume, or use --all.")
            unfinished = {r.id for r in journal.transfers() if r.state not in (DONE, CANCELLED)}
            if wanted is not None:
                unknown = [i for i in wanted if i not in unfinished]
                if unknown:
                    raise MpuguiError(f"No unfinished transfer with id {unknown[0]} is in "
                                      "the journal (see: mpugui transfers).")
            ids = engine.restore(sorted(unfinished if wanted is None else set(wanted)))
            if args.command == "cancel":
                engine.cancel(ids)
            elif args.restart:
                engine.cancel(ids, restart=True)
            else:
                engine.resume(ids)
        if not ids and not engine.busy():
            out.line("Nothing to do.")
            return EXIT_USAGE if skipped else EXIT_OK
        interrupted = _wait(app, engine, out)
    finally:
        snapshot = engine.current_snapshot()
        engine.shutdown()
        app.processEvents()  # deliver the last state changes to the reporter
        engine.state_changed.disconnect(on_state)
        engine.snapshot.disconnect(out.progress)
        journal.close()
    out.summary(snapshot)
    if interrupted:
        return EXIT_INTERRUPTED
    if any(t.state == FAILED for t in snapshot.transfers):
        return EXIT_FAILED
    return EXIT_USAGE if skipped else EXIT_OK


def _queue_uploads(engine: Any, args: argparse.Namespace, out: Reporter,
                   request: Callable[..., Any]) -> tuple[list[int], bool]:
    *sources, dest = args.paths
    if not sources:
        raise MpuguiError("Give at least one file or folder and an s3:// destination.")
    bucket, key = parse_s3_uri(dest)
    endpoint = endpoint_from_args(args)
    walk = collect(sources, key)
    for problem in walk.problems:
        out.problem(problem)
    ids = []
    for f in walk.files:
        try:
            ids.append(engine.add(request(
                f.path, bucket, f.key, endpoint, part_size=args.part_size,
                checksum=args.checksum, storage_class=args.storage_class,
                no_overwrite=args.no_overwrite)))
        except (MpuguiError, PlanError, ValueError) as exc:
            out.problem(f"{f.path}: {exc}")
            walk.problems.append(str(exc))
    return ids, bool(walk.problems)


def _wait(app: Any, engine: Any, out: Reporter) -> bool:
    """Run the event loop until the engine is idle; True when interrupted."""
    state = {"interrupted": False}

    def stop(signum: int, _frame: object) -> None:
        if not state["interrupted"]:
            state["interrupted"] = True
            out.line(f"{signal.Signals(signum).name}: pausing; resume with `mpugui resume --all`.")
            engine.pause_all()
        app.quit()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    engine.idle.connect(app.quit)
    try:
        if engine.busy():
            app.exec()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    return state["interrupted"]


class Reporter:
    """Progress on a terminal (one redrawn line), plain lines in a pipe, or
    one JSON object per line with --json."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self.stream = stream
        self.json = as_json
        self.tty = stream.isatty() and not as_json
        self._last_plain = 0.0

    def _emit(self, obj: dict[str, Any]) -> None:
        self.stream.write(json.dumps(obj) + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        if self.json:
            self._emit({"event": "message", "text": text})
        else:
            self._clear()
            print(text, file=self.stream, flush=True)

    def problem(self, text: str) -> None:
        if self.json:
            self._emit({"event": "problem", "text": text})
        else:
            self._clear()
            print(f"mpugui: {text}", file=sys.stderr, flush=True)

    def state(self, engine: Any, transfer_id: int, state: str) -> None:
        if state == "removed":
            return
        rec = engine.record(transfer_id)
        if self.json:
            self._emit({"event": "state", "id": transfer_id, "state": state,
                        "source": rec.source, "destination": rec.uri,
                        "upload_id": rec.upload_id, "error": rec.error if state == FAILED
                        else None})
        elif state in (DONE, FAILED, CANCELLED, PAUSED):
            self._clear()
            detail = ""
            t = engine.current_snapshot().by_id(transfer_id)
            if t is not None and t.detail:
                detail = f": {t.detail}"
            print(f"{state:<9} {rec.source} → {rec.uri}{detail}", file=self.stream, flush=True)

    def progress(self, snap: Any) -> None:
        done = sum(t.done_bytes for t in snap.transfers)
        total = sum(t.size for t in snap.transfers)
        if self.json:
            for t in snap.transfers:
                if t.state in ("uploading", "assembling", "verifying"):
                    self._emit({"event": "progress", "id": t.id, "bytes": t.done_bytes,
                                "size": t.size, "parts_done": t.parts_done,
                                "parts_total": t.parts_total, "speed": round(t.speed)})
            return
        eta = (total - done) / snap.speed if snap.speed else None
        text = (f"{format_bytes(done)} / {format_bytes(total)}  {format_rate(snap.speed)}  "
                f"ETA {format_duration(eta)}  active {snap.active}, queued {snap.queued}")
        if self.tty:
            frac = done / total if total else 1.0
            bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
            self.stream.write(f"\r{bar} {frac:6.1%}  {text}\x1b[K")
            self.stream.flush()
        elif time.monotonic() - self._last_plain >= 5:
            self._last_plain = time.monotonic()
            print(text, file=self.stream, flush=True)

    def summary(self, snap: Any) -> None:
        counts: dict[str, int] = {}
        for t in snap.transfers:
            counts[t.state] = counts.get(t.state, 0) + 1
        if self.json:
            self._emit({"event": "summary", "states": counts,
                        "retries": sum(t.retries for t in snap.transfers),
                        "wire_bytes": sum(t.wire_bytes for t in snap.transfers)})
        else:
            self._clear()
            text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing"
            print(f"Transfers: {text}.", file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
