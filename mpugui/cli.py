"""The command line: the same engine as the window, under QCoreApplication.

Exit codes: 0 everything done; 1 a transfer failed (it stays resumable);
2 bad usage or input (nothing lost); 3 interrupted by Ctrl-C/SIGTERM (paused,
resume with `mpugui resume`); 4 the journal or settings cannot be used;
5 the journal is in use by another mpugui (the window or another command that
changes transfers; nothing was done).

Commands that change transfers (upload, resume, cancel, uploads abort,
cleanup and adopt) own the state directory while they run (see
mpugui.core.journal.owner); read-only ones (transfers, uploads list and
parts, --help, --version) never take the lock. While the window owns it,
upload, resume and cancel run through the window (mpugui.remote_cli); the
others are refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from mpugui import __version__
from mpugui.core import gc_policy, paths
from mpugui.core.accounts import AccountStore
from mpugui.core.endpoint import (
    ClientFactory,
    Endpoint,
    validate_ca_bundle,
    validate_endpoint_url,
    validate_region,
)
from mpugui.core.errors import MpuguiError
from mpugui.core.hard_exit import exit_now
from mpugui.core.journal import owner as owner_lock
from mpugui.core.journal.store import CANCELLED, DONE, FAILED, WAITING, Journal, JournalError
from mpugui.core.logsetup import setup_logging
from mpugui.core.options import parse_concurrency, parse_part_size
from mpugui.core.problem_tally import ProblemTally
from mpugui.core.s3uri import parse_s3_uri
from mpugui.core.transfer.checksums import ALGORITHMS, DEFAULT_ALGORITHM
from mpugui.core.transfer.existing import skipped_sentence
from mpugui.core.transfer.feeder import Feeder, FeedRequest, resume_walks
from mpugui.core.transfer.plan import DEFAULT_PART_SIZE, PlanError
from mpugui.core.units import (
    format_bytes,
    format_duration,
    format_rate,
    parse_duration,
    parse_rate,
)
from mpugui.core.verify import parse as parse_evidence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_JOURNAL = 0, 1, 2, 3, 4
EXIT_BUSY = 5
# What a shell reports for a tool that SIGPIPE ended (`mpugui transfers | head -1`).
EXIT_PIPE = 128 + signal.SIGPIPE
SHUTDOWN_SECONDS = 3.0  # at most, after Ctrl-C, for workers to leave their requests

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


PART_SIZE, RATE, DURATION = _typed(parse_part_size), _typed(parse_rate), _typed(parse_duration)
CONCURRENCY = _typed(parse_concurrency)
MAX_WAIT_HELP = ("when the network or the server is down, give up after this long (e.g. 90s, "
                 "10m, 2h; 0: at once) and exit 1, the transfers resumable; default: wait "
                 "until it is back")


def _endpoint_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (default: the standard AWS chain)")
    g.add_argument("--account", help="a saved account (as added in the app)")
    g.add_argument("--profile", help="an AWS config profile (SSO included)")
    g.add_argument("--endpoint-url", help="an S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    g.add_argument("--region")
    g.add_argument("--path-style", action="store_true", help="path-style addressing")
    g.add_argument("--checksum-when-required", action="store_true",
                   help="send no checksum header the store did not ask for (Content-MD5 "
                        "only where S3 requires one): for stores that reject or mis-store "
                        "checksum headers. Uploads then default to --checksum none; an "
                        "explicit --checksum still applies")
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
    up.add_argument("--part-size", type=PART_SIZE,
                    help=f"part size, e.g. 16MiB (default {format_bytes(DEFAULT_PART_SIZE)}, "
                         "raised automatically so a file fits in 10,000 parts)")
    up.add_argument("--concurrency", type=CONCURRENCY,
                    help="parts in flight at once (default: adaptive, found while running)")
    up.add_argument("--checksum", choices=sorted(ALGORITHMS), default=None,
                    help=f"per-part integrity checksum (default {DEFAULT_ALGORITHM}; none "
                         "with --checksum-when-required)")
    up.add_argument("--storage-class", help="e.g. STANDARD_IA, GLACIER_IR")
    up.add_argument("--no-overwrite", action="store_true",
                    help="fail instead of replacing an existing object (If-None-Match: *)")
    skip = up.add_mutually_exclusive_group()
    skip.add_argument("--skip-existing", dest="skip_existing", action="store_true",
                      default=None,
                      help="skip files already at the destination with the same size and "
                           "content (default for folders)")
    skip.add_argument("--no-skip-existing", dest="skip_existing", action="store_false",
                      help="upload every file, also those already there (default for files)")
    up.add_argument("--bwlimit", type=RATE, default=0,
                    help="bandwidth limit for all parts together, e.g. 10MB/s")
    up.add_argument("--max-wait", type=DURATION, default=None, metavar="DURATION",
                    help=MAX_WAIT_HELP)
    up.add_argument("--json", action="store_true", help="one JSON object per line")

    tr = sub.add_parser("transfers", help="list journaled transfers")
    tr.add_argument("--json", action="store_true")

    rs = sub.add_parser("resume", help="resume paused, failed or interrupted transfers")
    rs.add_argument("ids", nargs="*", type=int, metavar="ID")
    rs.add_argument("--all", action="store_true", help="every unfinished transfer")
    rs.add_argument("--restart", action="store_true",
                    help="start over: abort the old upload and send the whole file again")
    rs.add_argument("--concurrency", type=CONCURRENCY,
                    help="parts in flight at once (default: adaptive)")
    rs.add_argument("--bwlimit", type=RATE, default=0)
    rs.add_argument("--max-wait", type=DURATION, default=None, metavar="DURATION",
                    help=MAX_WAIT_HELP)
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
        validate_region(args.region)
        changes["region"] = args.region
    if args.path_style:
        changes["path_style"] = True
    if args.checksum_when_required:
        changes["checksum_when_required"] = True
    if args.equal_parts:
        changes["equal_parts"] = True
    if args.ca_bundle:
        validate_ca_bundle(args.ca_bundle)
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
    owner: owner_lock.Owner | None = None
    try:
        setup_logging(args.verbose)
        gc_policy.install()  # a 100,000-file folder: full collections stay short
        kind = owner_kind(args)
        if kind:  # refused at once while the window or another command owns the journal
            try:
                owner = owner_lock.acquire(kind)
            except owner_lock.JournalBusy as busy:
                code = _through_window(args, busy)
                if code is None:
                    raise
                return code
        if args.command == "uploads":
            from mpugui import orphans_cli, uploads_cli

            # What the uploads commands need of this module and of the
            # whole-account commands is handed in: neither imports back.
            return uploads_cli.run(args, endpoint_from_args, _run_engine,
                                   {"scan": orphans_cli.scan,
                                    "cleanup": orphans_cli.cleanup_all,
                                    "lifecycle": orphans_cli.lifecycle_all})
        journal = Journal(paths.journal_path())
        if args.command == "transfers":
            try:
                return _transfers(journal, args)
            finally:
                journal.close()  # its writer thread too (main() runs in-process in tests)
        return _run_engine(journal, args)  # it closes the journal
    except owner_lock.JournalBusy as exc:
        print(f"mpugui: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except JournalError as exc:
        print(f"mpugui: {exc}", file=sys.stderr)
        return EXIT_JOURNAL
    except (MpuguiError, PlanError) as exc:
        print(f"mpugui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`| head -1`): end quietly
        stdout_closed()
        return EXIT_PIPE
    finally:
        if owner is not None:
            owner.release()


def stdout_closed() -> None:
    """Point stdout at /dev/null once its reader has gone, so neither a later
    write nor the interpreter's final flush raises BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _through_window(args: argparse.Namespace, busy: owner_lock.JournalBusy) -> int | None:
    """upload, resume and cancel run through the window that owns the journal
    (mpugui.remote_cli); None when they cannot (another command owns it, or
    no window answers)."""
    if args.command not in ("upload", "resume", "cancel"):
        return None
    if busy.holder is None or not busy.holder.is_window:
        return None
    from mpugui import remote_cli

    return remote_cli.run(args, endpoint_from_args, Reporter)  # it does not import cli


def owner_kind(args: argparse.Namespace) -> str | None:
    """The command as the owner lock records it, for commands that change
    transfers; None for read-only ones (and a cleanup --dry-run)."""
    if args.command in ("upload", "resume", "cancel"):
        return str(args.command)
    sub = getattr(args, "uploads_command", None)
    if args.command == "uploads" and sub in ("abort", "adopt", "cleanup"):
        if sub == "cleanup" and args.dry_run:
            return None
        return f"uploads {sub}"
    return None


def _transfers(journal: Journal, args: argparse.Namespace) -> int:
    counts = journal.part_counts()
    out = sys.stdout
    records = journal.transfers()
    if not records and not args.json:
        print("No transfers in the journal.")
    for rec in records:
        total = rec.plan().part_count if rec.multipart else 1
        done = total if rec.state == DONE else counts.get(rec.id, 0)
        if args.json:
            out.write(json.dumps({
                "id": rec.id, "source": rec.source, "destination": rec.uri, "size": rec.size,
                "state": rec.state, "parts_done": done, "parts_total": total,
                "upload_id": rec.upload_id, "error": rec.error,
                "verification": rec.verification,
                "evidence": list(parse_evidence(rec.evidence)),
                "endpoint": rec.endpoint.label()}) + "\n")
            continue
        line = (f"{rec.id:>5}  {rec.state:<10} {done:>5}/{total:<5} "
                f"{format_bytes(rec.size):>10}  {rec.source} → {rec.uri}")
        if rec.error:
            line += f"\n       {rec.error}"
        if rec.state == DONE and rec.verification:
            line += f"\n       verified by {rec.verification}"
        out.write(line + "\n")
    out.flush()
    return EXIT_OK


def _run_engine(journal: Journal, args: argparse.Namespace) -> int:
    # Qt is imported here so `mpugui transfers` and `--help` stay quick.
    from PySide6.QtCore import QCoreApplication

    from mpugui.engine.engine import EngineSettings, TransferEngine

    app = QCoreApplication.instance() or QCoreApplication(["mpugui"])
    settings = EngineSettings(bandwidth_limit=getattr(args, "bwlimit", 0) or 0,
                              max_wait=getattr(args, "max_wait", None))
    if getattr(args, "concurrency", None):
        settings.concurrency = args.concurrency
    engine = TransferEngine(journal, ClientFactory(settings.concurrency + 4), settings)
    out = Reporter(sys.stdout, args.json, engine)
    # Connected before any transfer starts: the first tick's events reach it.
    engine.snapshot.connect(out.on_snapshot)
    # Warnings (a store without ListParts or Abort, a cancel that came too
    # late) are problems on stderr; errors already come with their state.
    engine.message.connect(out.on_message)
    feeders: list[Feeder] = []
    interrupted = False
    try:
        if args.command == "upload":
            feeders = [_start_upload(engine, journal, args)]
        else:
            if args.command == "resume" and not args.all and not args.ids:
                raise MpuguiError("Name transfer IDs to resume, or use --all.")
            wanted = None if getattr(args, "all", False) else args.ids
            unfinished = {r.id for r in journal.transfers() if r.state not in (DONE, CANCELLED)}
            if wanted is not None:
                unknown = [i for i in wanted if i not in unfinished]
                if unknown:
                    raise MpuguiError(f"No unfinished transfer with id {unknown[0]} is in "
                                      "the journal (see: mpugui transfers).")
            ids = engine.restore(unfinished if wanted is None else wanted)
            if args.command == "cancel":
                engine.cancel(ids)
            elif args.restart:
                engine.cancel(ids, restart=True)
            else:
                engine.resume(ids)
                if wanted is None:  # folders an interrupted upload had not walked
                    feeders = resume_walks(engine, journal, engine.clients.client)
            if not ids and not feeders:
                out.line("Nothing to do.")
                return EXIT_OK
        interrupted = _wait(app, engine, feeders, out)
    finally:
        # Idle at a normal end, so this returns at once; after Ctrl-C a request
        # the network holds (a Complete, say) does not hold the exit.
        stopped = engine.shutdown(timeout=SHUTDOWN_SECONDS)
        final = engine.publish(everything=True) or engine.current_snapshot()
        engine.snapshot.disconnect(out.on_snapshot)
        engine.message.disconnect(out.on_message)
        journal.close()
    out.summary(final, feeders)
    code = EXIT_OK
    if interrupted:
        code = EXIT_INTERRUPTED
    elif final.failed:
        code = EXIT_FAILED
    elif any(f.counts.problems for f in feeders):
        code = EXIT_USAGE
    if not stopped:
        exit_now(code)
    return code


def _start_upload(engine: Any, journal: Journal, args: argparse.Namespace) -> Feeder:
    *sources, dest = args.paths
    if not sources:
        raise MpuguiError("Give at least one file or folder and an s3:// destination.")
    bucket, key = parse_s3_uri(dest)
    endpoint = endpoint_from_args(args)
    skip = args.skip_existing
    if skip is None:  # the default: on for folders, as `aws s3 sync` and rclone do
        skip = any(os.path.isdir(s) for s in sources)
    request = FeedRequest(sources, bucket, key, endpoint, part_size=args.part_size,
                          checksum=args.checksum, storage_class=args.storage_class,
                          no_overwrite=args.no_overwrite, skip_existing=skip)
    return Feeder(engine, journal, request, engine.clients.client).start()


def _wait(app: Any, engine: Any, feeders: list[Feeder], out: Reporter) -> bool:
    """Run the event loop until every feeder has walked its sources and the
    engine is idle; True when interrupted (then everything is paused, and
    walks not finished stay journaled for `mpugui resume --all`)."""
    from PySide6.QtCore import QTimer

    state = {"interrupted": False}

    def stop(signum: int, _frame: object) -> None:
        if not state["interrupted"]:
            state["interrupted"] = True
            out.warn(f"{signal.Signals(signum).name}: pausing; resume with "
                     "`mpugui resume --all`.")
            for f in feeders:
                f.stop()
            for f in feeders:
                # Waits for a batch being journaled (local work): it is then in
                # the engine for pause_all, and nothing later comes unpaused.
                f.redirect(engine, paused=True)
            for f in feeders:
                f.join(5)
            engine.pause_all()
        app.quit()

    def check() -> None:
        if out.closed and not state["interrupted"]:
            stop(signal.SIGPIPE, None)  # nobody reads the output: stop, but paused
            return
        for f in feeders:
            for p in f.take_problems():
                out.problem(p.text, p.cause, p.path)
        if all(f.finished for f in feeders) and not engine.busy():
            app.quit()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    timer = QTimer()
    timer.setObjectName("mpugui-cli-wait")
    timer.setInterval(50)
    timer.timeout.connect(check)
    timer.start()
    try:
        app.exec()
    finally:
        timer.stop()
        for p in [p for f in feeders for p in f.take_problems()]:
            out.problem(p.text, p.cause, p.path)
        for s, handler in old.items():
            signal.signal(s, handler)
    return state["interrupted"]


class Reporter:
    """What a run says: on a terminal one live line (files, bytes, rate,
    ETA); in a pipe one line per finished file and totals every few seconds;
    with --json one object per line: each state change once, a progress
    line per tick, a summary at the end. Failures and warnings also go to
    stderr as sentences, --json or not. Once stdout's reader has gone
    (`| head`), `closed` is set and nothing more is written there."""

    def __init__(self, stream: TextIO, as_json: bool, engine: Any) -> None:
        self.stream = stream
        self.json = as_json
        self.engine = engine
        self.tty = stream.isatty() and not as_json
        self._last_plain = time.monotonic()
        self._waiting: set[int] = set()  # transfers said to be waiting
        self._down: set[str] = set()  # endpoints said to be down
        self.tally = ProblemTally()
        self.closed = False

    def _write(self, text: str, flush: bool = False) -> None:
        """Results on stdout; a pipe is flushed once per tick (_progress), not
        per line (a folder's 100,000 lines would be 100,000 system calls)."""
        if self.closed:
            return
        try:
            self.stream.write(text)
            if flush:
                self.stream.flush()
        except BrokenPipeError:  # raised inside a Qt slot: it would only be printed
            self.closed = True
            if self.stream is sys.stdout:
                stdout_closed()

    def _emit(self, obj: dict[str, Any], flush: bool = False) -> None:
        self._write(json.dumps(obj) + "\n", flush)

    def _stderr(self, text: str) -> None:
        self._clear()
        print(f"mpugui: {text}", file=sys.stderr, flush=True)

    def line(self, text: str) -> None:
        if self.json:
            self._emit({"event": "message", "text": text}, flush=True)
        else:
            self._clear()
            self._write(text + "\n", flush=True)

    def warn(self, text: str) -> None:
        """A note about the run itself (an interrupt): stderr, and with
        --json a message event as well."""
        if self.json:
            self._emit({"event": "message", "text": text})
        self._stderr(text)

    def problem(self, text: str, cause: str | None = None, path: str = "") -> None:
        """An entry that cannot be uploaded (`cause`: counted by it, and said
        on stderr only for the first few of each; the rest in one sentence
        at the end) or a warning (no cause: always said). --json lists each."""
        said = cause is None or self.tally.add(cause, text, path)
        if self.json:
            self._emit({"event": "problem", "text": text, "cause": cause or "other"})
        if said:
            self._stderr(text)

    def on_message(self, level: str, text: str) -> None:
        # The engine's errors are the failed state events' sentences (said
        # there); its warnings (a cancel that came too late) are said here.
        if level == "warning":
            self.problem(text)

    def on_snapshot(self, snap: Any) -> None:
        for ev in snap.events:
            self._state(ev)
        if not self.json:
            self._outages(snap)
        self._progress(snap)
        self._write("", flush=True)  # once per tick

    def _outages(self, snap: Any) -> None:
        """A line when an endpoint stops answering and one when it is back
        (per endpoint: 100,000 waiting files are two lines, not 200,000)."""
        # (a command run through the window gets snapshots without outages)
        down = {o.endpoint: o for o in getattr(snap, "outages", ())}
        for name, o in down.items():
            if name not in self._down:
                self._clear()
                self._write(f"waiting   {name} does not answer: {o.reason} Retrying by "
                                  f"itself ({o.waiting:,} transfers wait; Ctrl-C pauses).\n")
        if self._down - set(down):
            # Gone from the outages: answered, or given up (--max-wait), which
            # fails its transfers in the same tick.
            gave_up = any(ev.state == FAILED and "Gave up after waiting" in ev.detail
                          for ev in snap.events)
            for name in self._down - set(down):
                self._clear()
                self._write(f"gave up   waiting for {name} (--max-wait).\n" if gave_up
                                  else f"resumed   {name} answers again; the transfers "
                                       "carry on.\n")
        self._down = set(down)

    def _state(self, ev: Any) -> None:
        if ev.state == "removed" or not self.engine.has(ev.id):
            return
        rec = self.engine.record(ev.id)
        detail = f": {ev.detail}" if ev.detail else ""
        if self.json and ev.state == WAITING:
            self._waiting.add(ev.id)
            self._emit({"event": "waiting", "id": ev.id, "source": rec.source,
                        "destination": rec.uri, "upload_id": rec.upload_id,
                        "reason": ev.detail})
        elif self.json and ev.id in self._waiting:
            self._waiting.discard(ev.id)
            if ev.state != FAILED:
                self._emit({"event": "resumed", "id": ev.id, "source": rec.source,
                            "destination": rec.uri, "upload_id": rec.upload_id})
        if self.json:
            self._emit({
                "event": "state", "id": ev.id, "state": ev.state, "source": rec.source,
                "destination": rec.uri, "upload_id": rec.upload_id,
                "error": ev.detail or None if ev.state == FAILED else None})
        elif ev.state in (DONE, CANCELLED):
            self._clear()
            # A cancel's note (parts a store could not abort) is a warning on stderr.
            note = detail if ev.state != CANCELLED else ""
            self._write(f"{ev.state:<9} {rec.source} → {rec.uri}{note}\n")
        if ev.state == FAILED:
            self._stderr(f"failed {rec.source} → {rec.uri}{detail}")

    def _progress(self, snap: Any) -> None:
        if self.json:
            active = [t for t in snap.changed if t.state in ("uploading", "assembling",
                                                              "verifying")]
            self._emit({"event": "progress", "files_done": snap.done,
                        "files_total": snap.total, "bytes": snap.done_bytes,
                        "size": snap.total_bytes, "speed": round(snap.speed),
                        "transfers": [{"id": t.id, "bytes": t.done_bytes, "size": t.size,
                                       "parts_done": t.parts_done,
                                       "parts_total": t.parts_total, "speed": round(t.speed)}
                                      for t in active]})
            return
        eta = (snap.total_bytes - snap.done_bytes) / snap.speed if snap.speed else None
        text = (f"{snap.done:,}/{snap.total:,} files  {format_bytes(snap.done_bytes)} / "
                f"{format_bytes(snap.total_bytes)}  {format_rate(snap.speed)}  "
                f"ETA {format_duration(eta)}")
        outages = getattr(snap, "outages", ())
        if outages:
            text += "  " + outages[0].sentence().split(". ")[0]
        if self.tty:
            frac = snap.done_bytes / snap.total_bytes if snap.total_bytes else \
                (snap.done / snap.total if snap.total else 1.0)
            bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
            self._write(f"\r{bar} {frac:6.1%}  {text}\x1b[K")
        elif time.monotonic() - self._last_plain >= 5:
            self._last_plain = time.monotonic()
            self._write(text + "\n")

    def summary(self, snap: Any, feeders: list[Feeder]) -> None:
        for sentence in self.tally.beyond_each():  # one per cause said only in part
            self._stderr(sentence)
        counts = {s: n for s, n in snap.counts.items() if n}
        skipped = sum(f.counts.skipped for f in feeders)
        walked = sum(f.counts.walked for f in feeders)
        notes = [f.note for f in feeders if f.note]
        if self.json:
            self._emit({"event": "summary", "states": counts, "skipped": skipped,
                        "retries": snap.retries, "wire_bytes": snap.wire_bytes})
            for note in notes:
                self._emit({"event": "message", "text": note})
            self._write("", flush=True)
            return
        self._clear()
        for note in notes:
            self._write(note + "\n")
        if skipped:
            self._write(f"{skipped_sentence(skipped, walked)}.\n")
        text = ", ".join(f"{n:,} {s}" for s, n in sorted(counts.items())) or "nothing"
        self._write(f"Transfers: {text}.\n", flush=True)

    def _clear(self) -> None:
        if self.tty:
            self._write("\r\x1b[K")
