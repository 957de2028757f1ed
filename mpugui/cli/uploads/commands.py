"""`mpugui uploads ...` run: each command's handler, chosen from the parsed
arguments (the commands and their options: mpugui.cli.uploads)."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from mpugui.cli.exit_codes import EXIT_FAILED, EXIT_USAGE
from mpugui.cli.uploads.aborts import abort, cleanup
from mpugui.cli.uploads.adopt import adopt, lifecycle
from mpugui.cli.uploads.common import Out
from mpugui.cli.uploads.listing import list_parts, list_uploads
from mpugui.core.errors import MpuguiError, describe
from mpugui.core.inventory.errors import InventoryError, explain
from mpugui.core.s3.endpoint import Endpoint

if TYPE_CHECKING:
    from mpugui.core.journal.store import Journal


Handler = Callable[[argparse.Namespace, Endpoint, "Out"], int]


def run(args: argparse.Namespace,
        endpoint_from_args: Callable[[argparse.Namespace], Endpoint],
        run_engine: Callable[[Journal, argparse.Namespace], int],
        account_handlers: Mapping[str, Handler]) -> int:
    """`mpugui uploads ...`. mpugui.cli hands in its endpoint options' reader,
    its engine run (adopt hands the upload over to it) and the whole-account
    commands (mpugui.cli.orphans, which builds on this module)."""
    if not getattr(args, "uploads_command", None):
        print("mpugui uploads: name a command: list, scan, parts, abort, cleanup, adopt, "
              "lifecycle (see mpugui uploads --help).", file=sys.stderr)
        return EXIT_USAGE
    handler = _account_handler(args, account_handlers)
    if handler is None:
        handler = (functools.partial(adopt, run_engine=run_engine)
                   if args.uploads_command == "adopt" else _HANDLERS[args.uploads_command])
    endpoint = endpoint_from_args(args)
    out = Out(args.json)
    try:
        return handler(args, endpoint, out)
    except InventoryError as exc:
        out.error(str(exc))
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as exc:
        bucket = (getattr(args, "target", None) or "s3://")[5:].partition("/")[0]
        out.error(explain(exc, bucket) if isinstance(exc, ClientError) else describe(exc))
        return EXIT_FAILED


def _account_handler(args: argparse.Namespace, account_handlers: Mapping[str, Handler]
                     ) -> Handler | None:
    """The whole-account commands (mpugui.cli.orphans), or None for the
    per-bucket ones; naming both a bucket and --all-buckets is refused."""
    if args.uploads_command == "scan":
        return account_handlers["scan"]
    all_buckets = getattr(args, "all_buckets", False)
    has_target = bool(getattr(args, "target", None))
    if all_buckets and has_target:
        raise MpuguiError(f"Name a bucket or --all-buckets, not both ('{args.target}').")
    if not all_buckets and not has_target:
        raise MpuguiError(f"`mpugui uploads {args.uploads_command}` needs s3://BUCKET or "
                          "--all-buckets.")
    if getattr(args, "regions", None) and not all_buckets:
        raise MpuguiError("--regions applies only with --all-buckets.")
    if not all_buckets:
        return None
    return account_handlers[args.uploads_command]


_HANDLERS: dict[str, Handler] = {  # and adopt (run() hands it the engine)
    "list": list_uploads, "parts": list_parts, "abort": abort, "cleanup": cleanup,
    "lifecycle": lifecycle,
}
