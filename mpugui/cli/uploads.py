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
import functools
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from mpugui.cli.arg_types import typed
from mpugui.core.errors import MpuguiError, describe
from mpugui.core.inventory.aborts import AbortResult, abort_uploads
from mpugui.core.inventory.adopt import adoption_record, check_adoption
from mpugui.core.inventory.errors import InventoryError, UploadGone, explain
from mpugui.core.inventory.lifecycle import describe_rule, set_abort_incomplete
from mpugui.core.inventory.listing import (
    Upload,
    Usage,
    find_upload,
    format_age,
    format_cost,
    journal_index,
    list_upload_parts,
    parse_time,
    upload_pages,
    usage,
    utc_now,
)
from mpugui.core.options import MAX_ABORT_DAYS, parse_concurrency, parse_days
from mpugui.core.orphans.prices import PriceTable, check_prices, load_table
from mpugui.core.orphans.scan import listing_region
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.states import CANCELLED, FINAL_STATES
from mpugui.core.units import format_bytes, parse_age, plural

if TYPE_CHECKING:
    from mpugui.core.journal.store import Journal

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NOW_ENV = "MPUGUI_NOW"


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
    _price_option(ls)

    sc = command("scan", "find unfinished uploads in every bucket of the account: bytes, "
                 "age, estimated cost and whether a lifecycle rule aborts them", None)
    _price_option(sc)

    pa = command("parts", "list the parts of one upload", "s3://BUCKET/KEY")
    pa.add_argument("--upload-id", required=True)

    ab = command("abort", "abort one upload and delete its parts", "s3://BUCKET/KEY")
    ab.add_argument("--upload-id", required=True)

    cl = command("cleanup", "abort every upload older than an age", "s3://BUCKET[/PREFIX]",
                 all_buckets=True)
    cl.add_argument("--older-than", required=True, type=_age, metavar="AGE",
                    help="e.g. 36h, 7d, 2w")
    cl.add_argument("--dry-run", action="store_true", help="only list what would be aborted")
    cl.add_argument("--yes", action="store_true", help="do not ask before aborting")
    _price_option(cl)

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


Handler = Callable[[argparse.Namespace, Endpoint, "_Out"], int]


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
        handler = (functools.partial(_adopt, run_engine=run_engine)
                   if args.uploads_command == "adopt" else _HANDLERS[args.uploads_command])
    endpoint = endpoint_from_args(args)
    out = _Out(args.json)
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


# -- helpers ---------------------------------------------------------------------------


def _price_option(parser: argparse.ArgumentParser) -> None:
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


def prices_for(args: argparse.Namespace, endpoint: Endpoint) -> PriceTable:
    """The one price table of every estimate (the window's too): AWS's,
    with the user's prices for this store; --price-per-gb-month wins."""
    flat = getattr(args, "price_per_gb_month", None)
    if flat is not None:
        return PriceTable().only(flat)
    return load_table(endpoint_url=endpoint.endpoint_url)


_age = typed(parse_age)


class _Out:
    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def obj(self, data: dict[str, Any]) -> None:
        print(json.dumps(data, default=_json_default), flush=True)

    def line(self, text: str = "") -> None:
        if not self.json:
            print(text, flush=True)

    def error(self, text: str) -> None:
        print(f"mpugui: {text}", file=sys.stderr, flush=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _now(args: argparse.Namespace) -> datetime:
    text = getattr(args, "now", None) or os.environ.get(NOW_ENV)
    return parse_time(text) if text else utc_now()


def _client(endpoint: Endpoint) -> Any:
    return ClientFactory().client(endpoint)


def _key_target(args: argparse.Namespace) -> tuple[str, str]:
    bucket, key = parse_s3_uri(args.target)
    if not key:
        raise MpuguiError(f"'{args.target}' names no key; write it as s3://BUCKET/KEY.")
    return bucket, key


def _journal_ids() -> dict[str, int]:
    from mpugui.core import paths
    from mpugui.core.journal.store import Journal, JournalError

    try:
        journal = Journal(paths.journal_path())
    except JournalError:
        return {}  # listing still works without the journal
    try:
        return {uid: rec.id for uid, rec in journal_index(journal).items()}
    finally:
        journal.close()


class _Row:
    """One upload with its parts usage (or why it could not be read)."""

    def __init__(self, upload: Upload, use: Usage | None, error: str | None) -> None:
        self.upload, self.usage, self.error = upload, use, error

    def cost(self, prices: PriceTable, region: str) -> float | None:
        if self.usage is None:
            return None
        return prices.monthly_cost(self.usage.bytes, self.upload.storage_class, region)

    def as_json(self, now: datetime, prices: PriceTable, region: str,
                journal_ids: dict[str, int]) -> dict[str, Any]:
        u = self.upload
        cost = self.cost(prices, region)
        return {
            "bucket": u.bucket, "key": u.key, "upload_id": u.upload_id,
            "initiated": u.initiated.isoformat(), "age_seconds": int(u.age(now)),
            "initiator": u.initiator, "owner": u.owner, "storage_class": u.storage_class,
            "checksum_algorithm": u.checksum_algorithm,
            "parts": self.usage.parts if self.usage else None,
            "bytes": self.usage.bytes if self.usage else None,
            "estimated_monthly_cost": None if cost is None else round(cost, 6),
            "journal_id": journal_ids.get(u.upload_id), "error": self.error,
            "region": region,
        }


def _with_usage(client: Any, uploads: list[Upload], pool: ThreadPoolExecutor
                ) -> Iterable[_Row]:
    def one(u: Upload) -> _Row | None:
        try:
            return _Row(u, usage(list_upload_parts(client, u.bucket, u.key,
                                                           u.upload_id)), None)
        except UploadGone:
            return None  # completed or aborted since the listing: no longer in progress
        except InventoryError as exc:
            return _Row(u, None, str(exc))

    return (row for row in pool.map(one, uploads) if row is not None)


def _rows(client: Any, bucket: str, prefix: str,
          keep: Callable[[Upload], bool] = lambda u: True) -> Iterator[_Row]:
    # ListParts per upload is one round trip each: a few in parallel.
    with ThreadPoolExecutor(4) as pool:
        for page in upload_pages(client, bucket, prefix):
            yield from _with_usage(client, [u for u in page if keep(u)], pool)


def _table_line(row: _Row, now: datetime, prices: PriceTable, region: str,
                journal_ids: dict[str, int]) -> str:
    u = row.upload
    initiated = u.initiated.astimezone().strftime("%Y-%m-%d %H:%M")
    cost = row.cost(prices, region)
    if row.usage and cost is not None:
        parts, size = str(row.usage.parts), format_bytes(row.usage.bytes)
        cost_text = format_cost(cost)
    else:
        parts, size, cost_text = "?", "?", "?"
    known = f"#{journal_ids[u.upload_id]}" if u.upload_id in journal_ids else "-"
    line = (f"{initiated}  {format_age(u.age(now)):>8}  {parts:>5}  {size:>10}  "
            f"{cost_text:>9}  {known:>5}  {u.key}  {u.upload_id}")
    if row.error:
        line += f"\n    {row.error}"
    return line


_HEADER = (f"{'INITIATED':<16}  {'AGE':>8}  {'PARTS':>5}  {'BYTES':>10}  {'COST/MO*':>9}  "
           f"{'JRNL':>5}  KEY  UPLOAD ID")


# -- commands --------------------------------------------------------------------------


def _list(args: argparse.Namespace, endpoint: Endpoint, out: _Out) -> int:
    bucket, prefix = parse_s3_uri(args.target)
    client, now, prices = _client(endpoint), _now(args), prices_for(args, endpoint)
    journal_ids = _journal_ids()
    count = parts = size = failed = 0
    cost = 0.0
    rows = _rows(client, bucket, prefix)
    first = next(rows, None)  # a store without the listing says so before any table
    region = listing_region(client, bucket, endpoint)
    out.line(_HEADER)
    for row in itertools.chain([first] if first else [], rows):
        count += 1
        if row.usage:
            parts, size = parts + row.usage.parts, size + row.usage.bytes
            cost += row.cost(prices, region) or 0.0
        else:
            failed += 1
        if out.json:
            out.obj(row.as_json(now, prices, region, journal_ids))
        else:
            out.line(_table_line(row, now, prices, region, journal_ids))
    where = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    out.line(f"{plural(count, 'in-progress upload')} in {where}: {plural(parts, 'part')}, "
             f"{format_bytes(size)}, about {format_cost(cost)} a month "
             f"(*estimated from {prices.describe(region)}).")
    if failed:
        out.line(f"The parts of {plural(failed, 'upload')} could not be listed (see above).")
    return EXIT_FAILED if failed else EXIT_OK


def _parts(args: argparse.Namespace, endpoint: Endpoint, out: _Out) -> int:
    bucket, key = _key_target(args)
    parts = list_upload_parts(_client(endpoint), bucket, key, args.upload_id)
    if out.json:
        for p in parts:
            out.obj({"part_number": p.number, "size": p.size, "etag": p.etag.strip('"'),
                     "last_modified": p.last_modified.isoformat() if p.last_modified else None,
                     "checksum_algorithm": p.checksum_algorithm, "checksum": p.checksum})
        return EXIT_OK
    out.line(f"{'PART':>5}  {'SIZE':>14}  {'LAST MODIFIED':<16}  ETAG  CHECKSUM")
    for p in parts:
        when = p.last_modified.astimezone().strftime("%Y-%m-%d %H:%M") if p.last_modified \
            else "-"
        checksum = f"{p.checksum_algorithm} {p.checksum}" if p.checksum else "-"
        out.line(f"{p.number:>5}  {p.size:>14,}  {when:<16}  {p.etag.strip(chr(34))}  "
                 f"{checksum}")
    total = usage(parts)
    out.line(f"{plural(total.parts, 'part')}, {format_bytes(total.bytes)} ({total.bytes:,} bytes).")
    return EXIT_OK


def _forget_in_journal(upload_ids: set[str]) -> None:
    """A journaled transfer whose upload was aborted here cannot resume:
    mark it cancelled, as `mpugui cancel` would have."""
    if not upload_ids:
        return
    from mpugui.core import paths
    from mpugui.core.journal.store import Journal, JournalError

    try:
        journal = Journal(paths.journal_path())
    except JournalError:
        return
    try:
        for upload_id, rec in journal_index(journal).items():
            if upload_id in upload_ids and rec.state not in FINAL_STATES:
                journal.forget_parts(rec.id)
                journal.update(rec.id, state=CANCELLED, error=None)
    finally:
        journal.close()


def _abort_one(clients: ClientFactory, endpoint: Endpoint, upload: Upload, out: _Out) -> bool:
    try:
        use: Usage | None = usage(list_upload_parts(
            clients.client(endpoint), upload.bucket, upload.key, upload.upload_id))
    except InventoryError:
        use = None  # the abort itself says what is wrong
    [result] = abort_uploads(clients, endpoint, [upload])
    report_abort(result, use.parts if use else None, use.bytes if use else None, out)
    if result.ok:
        _forget_in_journal({upload.upload_id})
    return result.ok


def report_abort(result: AbortResult, parts: int | None, size: int | None, out: _Out,
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


def _abort(args: argparse.Namespace, endpoint: Endpoint, out: _Out) -> int:
    bucket, key = _key_target(args)
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


def confirm_abort(what: str, out: _Out, note: str = "") -> int | None:
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


def _cleanup(args: argparse.Namespace, endpoint: Endpoint, out: _Out) -> int:
    bucket, prefix = parse_s3_uri(args.target)
    clients, now = ClientFactory(), _now(args)
    client = clients.client(endpoint)
    prices = prices_for(args, endpoint)
    region = listing_region(client, bucket, endpoint)
    age = args.older_than
    journal_ids = _journal_ids()
    candidates: list[_Row] = []
    cutoff = (now - timedelta(seconds=age)).astimezone()
    out.line(f"Uploads initiated before {cutoff:%Y-%m-%d %H:%M} "
             f"(older than {format_age(age)}):")
    out.line(_HEADER)
    for row in _rows(client, bucket, prefix, lambda u: u.age(now) >= age):
        candidates.append(row)
        if out.json:
            out.obj({"event": "candidate", **row.as_json(now, prices, region, journal_ids)})
        else:
            out.line(_table_line(row, now, prices, region, journal_ids))
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
    _forget_in_journal(gone)
    out.line(f"Aborted {summary['aborted']} of {plural(len(candidates), 'upload')}"
             + (f"; {summary['failed']} failed." if summary["failed"] else "."))
    if out.json:
        out.obj(summary)
    return EXIT_FAILED if summary["failed"] else EXIT_OK


def _adopt(args: argparse.Namespace, endpoint: Endpoint, out: _Out, *,
           run_engine: Callable[[Journal, argparse.Namespace], int]) -> int:
    bucket, key = _key_target(args)
    if not os.path.isfile(args.file):
        raise MpuguiError(f"'{args.file}' is not a file.")
    client = _client(endpoint)
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


def _lifecycle(args: argparse.Namespace, endpoint: Endpoint, out: _Out) -> int:
    bucket, prefix = parse_s3_uri(args.target)
    change = set_abort_incomplete(_client(endpoint), bucket, args.abort_after, prefix,
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


_HANDLERS: dict[str, Handler] = {  # and adopt (run() hands it the engine)
    "list": _list, "parts": _parts, "abort": _abort, "cleanup": _cleanup,
    "lifecycle": _lifecycle,
}
