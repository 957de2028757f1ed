"""`mpugui uploads abort` and `cleanup`, and how an abort is asked for and
reported (the whole-account commands in cli/orphans.py say theirs the same way)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from mpugui.cli.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mpugui.cli.uploads.common import (
    Out,
    ages_from,
    forget_in_journal,
    journal_upload_ids,
    key_target,
    prices_for,
)
from mpugui.cli.uploads.listing import TABLE_HEADER, Row, listed_rows, table_line
from mpugui.core.inventory.aborts import AbortResult, abort_uploads
from mpugui.core.inventory.errors import InventoryError
from mpugui.core.inventory.listing import (
    Upload,
    Usage,
    format_age,
    list_upload_parts,
    usage,
    utc_now,
)
from mpugui.core.orphans.scan import listing_region
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.units import format_bytes, plural


def _abort_one(clients: ClientFactory, endpoint: Endpoint, upload: Upload, out: Out) -> bool:
    try:
        use: Usage | None = usage(list_upload_parts(
            clients.client(endpoint), upload.bucket, upload.key, upload.upload_id))
    except InventoryError:
        use = None  # the abort itself says what is wrong
    [result] = abort_uploads(clients, endpoint, [upload])
    report_abort(result, use.parts if use else None, use.bytes if use else None, out)
    if result.ok:
        forget_in_journal({upload.upload_id})
    return result.ok


def report_abort(result: AbortResult, parts: int | None, size: int | None, out: Out,
                 region: str | None = None) -> None:
    """One abort's line (or JSON object): the per-bucket and the
    account-wide commands say it the same way."""
    u = result.upload
    if out.json:
        out.obj({"event": "aborted" if result.ok else "failed", "bucket": u.bucket,
                 "key": u.key, "upload_id": u.upload_id, "parts": parts, "bytes": size,
                 "error": result.error, "region": region})
    elif result.ok:
        held = f" ({plural(parts, 'part')}, {format_bytes(size)} freed)" \
            if parts is not None and size is not None else ""
        out.line(f"Aborted {u.uri} upload {u.upload_id}{held}; no part of it is left.")
    else:
        out.error(f"{u.uri} upload {u.upload_id} was not aborted: {result.error}")


def abort(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    bucket, key = key_target(args)
    upload = Upload(bucket, key, args.upload_id, utc_now())
    return EXIT_OK if _abort_one(ClientFactory(), endpoint, upload, out) else EXIT_FAILED


def _confirm(question: str) -> bool | None:
    """True/False from the user on a terminal; None when nobody can answer."""
    if not sys.stdin.isatty():
        return None
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def confirm_abort(what: str, out: Out, note: str = "") -> int | None:
    """Ask before aborting `what` (`note` adds to the question); None to go
    on, else the exit code to end with (no answer possible, or a no)."""
    answer = _confirm(f"Abort {what}{note}?")
    if answer is None:
        out.error(f"Not aborting {what}: add --yes to abort without asking, or "
                  "--dry-run to only list them.")
        return EXIT_USAGE
    if not answer:
        out.line("Nothing was aborted.")
        return EXIT_USAGE
    return None


def cleanup(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    bucket, prefix = parse_s3_uri(args.target)
    clients, now = ClientFactory(), ages_from(args)
    client = clients.client(endpoint)
    prices = prices_for(args, endpoint)
    region = listing_region(client, bucket, endpoint)
    age = args.older_than
    journal_ids = journal_upload_ids()
    candidates: list[Row] = []
    cutoff = (now - timedelta(seconds=age)).astimezone()
    out.line(f"Uploads initiated before {cutoff:%Y-%m-%d %H:%M} "
             f"(older than {format_age(age)}):")
    out.line(TABLE_HEADER)
    for row in listed_rows(client, bucket, prefix, lambda u: u.age(now) >= age):
        candidates.append(row)
        if out.json:
            out.obj({"event": "candidate", **row.as_json(now, prices, region, journal_ids)})
        else:
            out.line(table_line(row, now, prices, region, journal_ids))
    parts = sum(r.usage.parts for r in candidates if r.usage)
    size = sum(r.usage.bytes for r in candidates if r.usage)
    summary: dict[str, Any] = {"event": "summary", "dry_run": bool(args.dry_run),
                               "now": now.isoformat(), "older_than_seconds": int(age),
                               "candidates": len(candidates), "aborted": 0, "failed": 0,
                               "parts": parts, "bytes": size}
    what = (f"{plural(len(candidates), 'upload')} holding {plural(parts, 'part')}, "
            f"{format_bytes(size)}")
    if not candidates or args.dry_run:
        out.line(f"Dry run: {what} would be aborted." if args.dry_run and candidates
                 else "No upload is that old; nothing to abort.")
        if out.json:
            out.obj(summary)
        return EXIT_OK
    if not args.yes and (refused := confirm_abort(what, out)) is not None:
        return refused
    gone = set()
    by_id = {row.upload.address: row for row in candidates}

    def report(result: AbortResult) -> None:
        row = by_id[result.upload.address]
        report_abort(result, row.usage.parts if row.usage else None,
                     row.usage.bytes if row.usage else None, out, region)
        summary["aborted" if result.ok else "failed"] += 1
        if result.ok:
            gone.add(row.upload.upload_id)

    abort_uploads(clients, endpoint, [row.upload for row in candidates], on_result=report)
    forget_in_journal(gone)
    out.line(f"Aborted {summary['aborted']} of {plural(len(candidates), 'upload')}"
             + (f"; {summary['failed']} failed." if summary["failed"] else "."))
    if out.json:
        out.obj(summary)
    return EXIT_FAILED if summary["failed"] else EXIT_OK
