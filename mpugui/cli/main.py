"""The command line: parse, take the state directory when the command
changes transfers, run the command, and turn what went wrong into one
sentence on stderr and an exit code (mpugui.cli.exit_codes).

Commands that change transfers (upload, resume, cancel, uploads abort,
cleanup and adopt) own the state directory while they run (see
mpugui.core.journal.owner); read-only ones (transfers, uploads list and
parts, --help, --version) never take the lock. While the window owns it,
upload, resume and cancel run through the window (mpugui.cli.remote); the
others are refused.
"""

from __future__ import annotations

import argparse
import sys

from mpugui.cli.endpoint_options import endpoint_from_args
from mpugui.cli.exit_codes import EXIT_BUSY, EXIT_JOURNAL, EXIT_PIPE, EXIT_USAGE
from mpugui.cli.parser import UsageError, build_parser
from mpugui.cli.report import Reporter, stdout_closed
from mpugui.cli.transfers import list_transfers, run_engine
from mpugui.core import gc_policy, paths
from mpugui.core.errors import MpuguiError
from mpugui.core.journal import owner as owner_lock
from mpugui.core.journal.store import Journal, JournalError
from mpugui.core.logsetup import setup_logging
from mpugui.core.s3.plan import PlanError

_ENGINE_COMMANDS = ("upload", "resume", "cancel")  # run the transfer engine


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
        if args.command not in _ENGINE_COMMANDS:
            gc_policy.release()  # (run_engine releases once the engine is built)
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
            from mpugui.cli import orphans
            from mpugui.cli.uploads import commands as uploads

            # What the uploads commands need of the transfer commands and of
            # the whole-account commands is handed in: neither imports back.
            return uploads.run(args, endpoint_from_args, run_engine,
                               {"scan": orphans.scan,
                                "cleanup": orphans.cleanup_all,
                                "lifecycle": orphans.lifecycle_all})
        journal = Journal(paths.journal_path())
        if args.command == "transfers":
            try:
                return list_transfers(journal, args)
            finally:
                journal.close()  # its writer thread too (main() runs in-process in tests)
        return run_engine(journal, args)  # it closes the journal
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
        gc_policy.release()
        if owner is not None:
            owner.release()


def _through_window(args: argparse.Namespace, busy: owner_lock.JournalBusy) -> int | None:
    """upload, resume and cancel run through the window that owns the journal
    (mpugui.cli.remote); None when they cannot (another command owns it, or
    no window answers)."""
    if args.command not in _ENGINE_COMMANDS:
        return None
    if busy.holder is None or not busy.holder.is_window:
        return None
    from mpugui.cli import remote

    return remote.run(args, endpoint_from_args, Reporter)  # it does not import cli


def owner_kind(args: argparse.Namespace) -> str | None:
    """The command as the owner lock records it, for commands that change
    transfers; None for read-only ones (and a cleanup --dry-run)."""
    if args.command in _ENGINE_COMMANDS:
        return str(args.command)
    sub = getattr(args, "uploads_command", None)
    if args.command == "uploads" and sub in ("abort", "adopt", "cleanup"):
        if sub == "cleanup" and args.dry_run:
            return None
        return f"uploads {sub}"
    return None
