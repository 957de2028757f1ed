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
upload, resume and cancel run through the window (mpugui.cli.remote); the
others are refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import Any

from mpugui import __version__
from mpugui.cli.arg_types import typed
from mpugui.cli.report import Reporter, stdout_closed
from mpugui.core import gc_policy, paths
from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.hard_exit import exit_now
from mpugui.core.journal import owner as owner_lock
from mpugui.core.journal.store import Journal, JournalError
from mpugui.core.logsetup import setup_logging
from mpugui.core.options import parse_concurrency, parse_part_size
from mpugui.core.s3.checksums import ALGORITHMS, DEFAULT_ALGORITHM
from mpugui.core.s3.endpoint import (
    ClientFactory,
    Endpoint,
    validate_ca_bundle,
    validate_endpoint_url,
    validate_region,
)
from mpugui.core.s3.plan import DEFAULT_PART_SIZE, PlanError
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.states import CANCELLED, DONE
from mpugui.core.transfer.feeder import Feeder, FeedRequest, resume_walks
from mpugui.core.transfer.verify import parse as parse_evidence
from mpugui.core.units import (
    format_bytes,
    parse_duration,
    parse_rate,
)

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


PART_SIZE, RATE, DURATION = typed(parse_part_size), typed(parse_rate), typed(parse_duration)
CONCURRENCY = typed(parse_concurrency)
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

    from mpugui.cli import uploads  # the in-progress uploads commands

    uploads.add_parser(sub, _endpoint_options)
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
            from mpugui.cli import orphans, uploads

            # What the uploads commands need of this module and of the
            # whole-account commands is handed in: neither imports back.
            return uploads.run(args, endpoint_from_args, _run_engine,
                               {"scan": orphans.scan,
                                "cleanup": orphans.cleanup_all,
                                "lifecycle": orphans.lifecycle_all})
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


def _through_window(args: argparse.Namespace, busy: owner_lock.JournalBusy) -> int | None:
    """upload, resume and cancel run through the window that owns the journal
    (mpugui.cli.remote); None when they cannot (another command owns it, or
    no window answers)."""
    if args.command not in ("upload", "resume", "cancel"):
        return None
    if busy.holder is None or not busy.holder.is_window:
        return None
    from mpugui.cli import remote

    return remote.run(args, endpoint_from_args, Reporter)  # it does not import cli


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
