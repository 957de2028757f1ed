"""`mpugui uploads ...`: the bucket's in-progress multipart uploads, for
cron jobs and scripts.

Commands
    mpugui uploads list      s3://BUCKET[/PREFIX] [--json] [--price-per-gb-month USD]
    mpugui uploads parts     s3://BUCKET/KEY --upload-id ID [--json]
    mpugui uploads abort     s3://BUCKET/KEY --upload-id ID [--json]
    mpugui uploads cleanup   s3://BUCKET[/PREFIX] --older-than AGE [--dry-run] [--yes] [--json]
    mpugui uploads adopt     s3://BUCKET/KEY --upload-id ID LOCAL_FILE [--json]
    mpugui uploads lifecycle s3://BUCKET[/PREFIX] --abort-after DAYS [--dry-run] [--json]
The whole account (every bucket, each in its own region; mpugui.cli.orphans):
    mpugui uploads scan      [--regions REGION...] [--json] [--price-per-gb-month USD]
    mpugui uploads cleanup   --all-buckets --older-than AGE [--dry-run] [--yes] [--json]
    mpugui uploads lifecycle --all-buckets --abort-after DAYS [--dry-run] [--json]
Each takes the connection options of `mpugui upload` (--account, --profile,
--endpoint-url, --region, ...). AGE is a number and a unit: 90m, 36h, 7d, 2w.
`cleanup` without --yes asks on a terminal and refuses otherwise.

Exit codes: 0 done; 1 an S3 call failed, an abort failed, the parts of an
upload could not be listed, or a local file does not match the upload
(nothing completed); 2 bad usage, or `cleanup` was not confirmed (no --yes,
or the answer was no); 3 an adopted transfer was interrupted (paused; resume
with `mpugui resume`); 4 the journal cannot be used; 5 the journal is in use
by another mpugui (abort, cleanup without --dry-run and adopt take the owner
lock, as `mpugui upload` does; list, parts and lifecycle never do).

JSON output (--json; UTF-8, one JSON object per line; times are ISO 8601
with a UTC offset; sizes are bytes; fields are only ever added, never
renamed or removed):

  list       one object per upload, in key order, as pages arrive (an upload
             completed or aborted between the listing and its ListParts is
             left out):
             {"bucket": str, "key": str, "upload_id": str,
              "initiated": str, "age_seconds": int,
              "initiator": str, "owner": str, "storage_class": str,
              "checksum_algorithm": str|null,     // CRC32, CRC32C, SHA256, ...
              "parts": int|null, "bytes": int|null, // null when ListParts failed
              "estimated_monthly_cost": float|null, // USD; bytes/2^30 x the price of
                                                   // storage_class in region (below)
              "journal_id": int|null,              // this app's transfer, if known
              "error": str|null,                   // why parts/bytes are null
              "region": str}                       // the bucket's, as `scan` finds it
  parts      one object per part, by part number:
             {"part_number": int, "size": int, "etag": str (no quotes),
              "last_modified": str|null, "checksum_algorithm": str|null,
              "checksum": str|null}                // base64, when the server lists it
  abort      {"event": "aborted"|"failed", "bucket", "key", "upload_id",
              "parts": int|null, "bytes": int|null, "error": str|null,
              "region": str|null}                  // null when not looked up
  cleanup    {"event": "candidate", ...every field of a `list` object...}
             for each upload older than AGE, then (unless --dry-run) one
             {"event": "aborted"|"failed", ...} per candidate as above, then
             {"event": "summary", "dry_run": bool, "now": str,
              "older_than_seconds": int, "candidates": int, "aborted": int,
              "failed": int, "parts": int, "bytes": int}
  adopt      {"event": "verified", "bucket", "key", "upload_id", "file": str,
              "part_size": int, "parts_total": int, "verified": [int],
              "unverifiable": [int], "missing": [int],
              "mismatches": [{"part_number": int, "reason": str}]}
             then, when nothing mismatches, the transfer events of
             `mpugui resume --json` ("state", "progress", "message",
             "summary").
  lifecycle  {"bucket": str, "prefix": str, "abort_after_days": int,
              "changed": bool, "applied": bool, "dry_run": bool,
              "before": [rule], "after": [rule]}   // rules as S3's API spells them

Prices: the cost estimates of list, scan and cleanup (and of the window's
two uploads tabs) come from one table: AWS's published price per storage
class and region (dated in mpugui/core/orphans/prices.py), overridden by
the prices set in the window's Settings > Storage prices (prices.json in
the state directory: for every store, or per S3-compatible store by host).
--price-per-gb-month USD puts one price on everything for this run.

For tests only: the environment variable MPUGUI_NOW (ISO 8601, e.g.
2010-11-20T00:00:00Z) replaces the current time when ages are computed
(moto dates every upload 2010-11-10, so real old uploads cannot be made).
"""


from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mpugui.cli.arg_types import typed
from mpugui.core.options import MAX_ABORT_DAYS, parse_concurrency, parse_days
from mpugui.core.orphans.prices import check_prices
from mpugui.core.units import parse_age

# The commands' arguments only: `mpugui upload` builds the whole parser and
# should not load what the uploads commands run (mpugui.cli.uploads.commands).

age_type = typed(parse_age)


def price_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price-per-gb-month", type=_price, default=None, metavar="USD",
                        help="one price for every storage class and region, this run only "
                        "(default: AWS's table per class and region, with the prices set "
                        "in Settings > Storage prices)")


def _price(text: str) -> float:
    try:
        return check_prices({"*": float(text)})["*"]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a price: give US dollars per GB-month, e.g. 0.0059") from None


def add_parser(sub: Any, endpoint_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("uploads", help="in-progress multipart uploads of a bucket",
                       description="Find, inspect, adopt and clean up a bucket's in-progress "
                                   "(incomplete) multipart uploads: billed storage that no "
                                   "object listing shows.")
    cmds = p.add_subparsers(dest="uploads_command", metavar="COMMAND")

    def command(name: str, help_text: str, target: str | None,
                all_buckets: bool = False) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, help=help_text, description=help_text)
        if target:
            # With --all-buckets (every bucket of the account) no target is named.
            c.add_argument("target", metavar=target, nargs="?" if all_buckets else None)
        if all_buckets:
            c.add_argument("--all-buckets", action="store_true",
                           help="every bucket the account lists, each in its own region")
        if all_buckets or not target:
            c.add_argument("--regions", nargs="+", metavar="REGION",
                           help="only buckets in these regions (with --all-buckets)")
        endpoint_options(c)
        c.add_argument("--json", action="store_true", help="JSON output, one object a line")
        # Tests only (see MPUGUI_NOW): the time ages are measured from.
        c.add_argument("--now", help=argparse.SUPPRESS)
        return c

    ls = command("list", "list in-progress uploads with their parts, bytes and estimated cost",
                 "s3://BUCKET[/PREFIX]")
    price_option(ls)

    sc = command("scan", "find unfinished uploads in every bucket of the account: bytes, "
                 "age, estimated cost and whether a lifecycle rule aborts them", None)
    price_option(sc)

    pa = command("parts", "list the parts of one upload", "s3://BUCKET/KEY")
    pa.add_argument("--upload-id", required=True)

    ab = command("abort", "abort one upload and delete its parts", "s3://BUCKET/KEY")
    ab.add_argument("--upload-id", required=True)

    cl = command("cleanup", "abort every upload older than an age", "s3://BUCKET[/PREFIX]",
                 all_buckets=True)
    cl.add_argument("--older-than", required=True, type=age_type, metavar="AGE",
                    help="e.g. 36h, 7d, 2w")
    cl.add_argument("--dry-run", action="store_true", help="only list what would be aborted")
    cl.add_argument("--yes", action="store_true", help="do not ask before aborting")
    price_option(cl)

    ad = command("adopt", "verify the uploaded parts against a local file, then upload "
                 "only the missing parts and complete", "s3://BUCKET/KEY")
    ad.add_argument("--upload-id", required=True)
    ad.add_argument("file", metavar="LOCAL_FILE")
    ad.add_argument("--concurrency", type=typed(parse_concurrency),
                    help="parts in flight at once")

    lc = command("lifecycle", "make the bucket abort incomplete uploads after N days "
                 "(merged into its lifecycle rules)", "s3://BUCKET[/PREFIX]",
                 all_buckets=True)
    lc.add_argument("--abort-after", required=True, type=typed(parse_days), metavar="DAYS",
                    help=f"whole days, 1 to {MAX_ABORT_DAYS}")
    lc.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
