"""`mpugui uploads adopt` (check an upload's parts against a local file, then
hand it to the engine to send what is missing and complete it) and
`lifecycle` (the bucket rule that aborts incomplete uploads)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.adopt import adoption_record, check_adoption
from mpugui.core.inventory.lifecycle import describe_rule, set_abort_incomplete
from mpugui.core.inventory.listing import (
    find_upload,
    journal_index,
)
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.states import FINAL_STATES
from mpugui.core.units import plural

if TYPE_CHECKING:
    from mpugui.core.journal.store import Journal


from mpugui.cli.exit_codes import EXIT_FAILED, EXIT_OK
from mpugui.cli.uploads.common import Out, key_target, s3_client


def adopt(args: argparse.Namespace, endpoint: Endpoint, out: Out, *,
           run_engine: Callable[[Journal, argparse.Namespace], int]) -> int:
    bucket, key = key_target(args)
    if not os.path.isfile(args.file):
        raise MpuguiError(f"'{args.file}' is not a file.")
    client = s3_client(endpoint)
    upload = find_upload(client, bucket, key, args.upload_id)
    from mpugui.core import paths
    from mpugui.core.journal.store import Journal

    journal = Journal(paths.journal_path())
    handed_over = False
    try:
        known = journal_index(journal).get(upload.upload_id)
        if known is not None and known.state not in FINAL_STATES:
            raise MpuguiError(f"This upload is already transfer {known.id} in the journal; "
                              f"resume it with: mpugui resume {known.id}")
        out.line(f"Verifying the parts of {upload.uri} against {args.file} …")
        check = check_adoption(client, upload, args.file)
        if out.json:
            out.obj({"event": "verified", "bucket": bucket, "key": key,
                     "upload_id": upload.upload_id, "file": os.path.abspath(args.file),
                     "part_size": check.part_size, "parts_total": check.part_count,
                     "verified": check.verified, "unverifiable": check.unverifiable,
                     "missing": check.missing,
                     "mismatches": [{"part_number": m.number, "reason": m.reason}
                                    for m in check.mismatches]})
        for m in check.mismatches:
            out.error(m.reason)
        if not check.ok:
            out.error(check.summary())
            return EXIT_FAILED
        out.line(check.summary())
        if check.unverifiable:
            n = len(check.unverifiable)
            out.line(f"{plural(n, 'part')} list{'s' if n == 1 else ''} neither an MD5 ETag "
                     "nor a checksum, so they will be sent again.")
        transfer_id = journal.add(adoption_record(check, endpoint))
        out.line(f"Queued as transfer {transfer_id}.")
        engine_args = argparse.Namespace(command="resume", ids=[transfer_id], all=False,
                                         restart=False, concurrency=args.concurrency,
                                         bwlimit=0, json=args.json)
        handed_over = True
        return int(run_engine(journal, engine_args))  # it closes the journal
    finally:
        if not handed_over:
            journal.close()


def lifecycle(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    bucket, prefix = parse_s3_uri(args.target)
    change = set_abort_incomplete(s3_client(endpoint), bucket, args.abort_after, prefix,
                                      dry_run=args.dry_run)
    if out.json:
        out.obj({"bucket": bucket, "prefix": prefix, "abort_after_days": args.abort_after,
                 "changed": change.changed, "applied": change.applied,
                 "dry_run": bool(args.dry_run), "before": change.before,
                 "after": change.after})
        return EXIT_OK
    out.line(f"Lifecycle rules of s3://{bucket} before:")
    for rule in change.before or []:
        out.line(f"  {describe_rule(rule)}")
    if not change.before:
        out.line("  (none)")
    out.line("after:")
    for rule in change.after:
        out.line(f"  {describe_rule(rule)}")
    if not change.changed:
        out.line("Nothing to change: the bucket already aborts incomplete uploads after "
                 f"{args.abort_after} days.")
    elif change.applied:
        out.line("Applied.")
    else:
        out.line("Dry run: nothing was written.")
    return EXIT_OK
