"""`mpugui uploads list` and `parts`: a bucket's in-progress uploads with
their parts, bytes and estimated cost."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from mpugui.cli.exit_codes import EXIT_FAILED, EXIT_OK
from mpugui.cli.uploads.common import (
    Out,
    ages_from,
    journal_upload_ids,
    key_target,
    prices_for,
    s3_client,
)
from mpugui.core.inventory.errors import InventoryError, UploadGone
from mpugui.core.inventory.listing import (
    Upload,
    Usage,
    format_age,
    format_cost,
    list_upload_parts,
    upload_pages,
    usage,
)
from mpugui.core.orphans.prices import PriceTable
from mpugui.core.orphans.scan import listing_region
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.units import format_bytes, plural


class Row:
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


def with_usage(client: Any, uploads: list[Upload], pool: ThreadPoolExecutor
                ) -> Iterable[Row]:
    def one(u: Upload) -> Row | None:
        try:
            return Row(u, usage(list_upload_parts(client, u.bucket, u.key,
                                                           u.upload_id)), None)
        except UploadGone:
            return None  # completed or aborted since the listing: no longer in progress
        except InventoryError as exc:
            return Row(u, None, str(exc))

    return (row for row in pool.map(one, uploads) if row is not None)


def listed_rows(client: Any, bucket: str, prefix: str,
          keep: Callable[[Upload], bool] = lambda u: True) -> Iterator[Row]:
    # ListParts per upload is one round trip each: a few in parallel.
    with ThreadPoolExecutor(4) as pool:
        for page in upload_pages(client, bucket, prefix):
            yield from with_usage(client, [u for u in page if keep(u)], pool)


def table_line(row: Row, now: datetime, prices: PriceTable, region: str,
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


TABLE_HEADER = (f"{'INITIATED':<16}  {'AGE':>8}  {'PARTS':>5}  {'BYTES':>10}  {'COST/MO*':>9}  "
           f"{'JRNL':>5}  KEY  UPLOAD ID")


def list_uploads(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    bucket, prefix = parse_s3_uri(args.target)
    client, now, prices = s3_client(endpoint), ages_from(args), prices_for(args, endpoint)
    journal_ids = journal_upload_ids()
    count = parts = size = failed = 0
    cost = 0.0
    rows = listed_rows(client, bucket, prefix)
    first = next(rows, None)  # a store without the listing says so before any table
    region = listing_region(client, bucket, endpoint)
    out.line(TABLE_HEADER)
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
            out.line(table_line(row, now, prices, region, journal_ids))
    where = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    out.line(f"{plural(count, 'in-progress upload')} in {where}: {plural(parts, 'part')}, "
             f"{format_bytes(size)}, about {format_cost(cost)} a month "
             f"(*estimated from {prices.describe(region)}).")
    if failed:
        out.line(f"The parts of {plural(failed, 'upload')} could not be listed (see above).")
    return EXIT_FAILED if failed else EXIT_OK


def list_parts(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    bucket, key = key_target(args)
    parts = list_upload_parts(s3_client(endpoint), bucket, key, args.upload_id)
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
