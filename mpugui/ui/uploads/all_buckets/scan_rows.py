"""The All buckets tab's view of a scan's uploads: grouped by bucket, as rows
of the uploads table, and the buckets recounted after aborts (only those
that changed). Qt-free."""

from __future__ import annotations

from collections.abc import Iterable

from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.listing import Usage
from mpugui.core.orphans.results import AccountScan, BucketReport, ScannedUpload
from mpugui.ui.uploads.models import UploadRow

ByBucket = dict[str, list[ScannedUpload]]


def group(rows: Iterable[ScannedUpload], into: ByBucket | None = None) -> ByBucket:
    """`rows` by bucket name, added to `into` when given."""
    by_bucket: ByBucket = {} if into is None else into
    for row in rows:
        by_bucket.setdefault(row.upload.bucket, []).append(row)
    return by_bucket


def upload_rows(rows: list[ScannedUpload]) -> list[UploadRow]:
    return [UploadRow(r.upload, Usage(r.parts, r.bytes)
                      if r.parts is not None and r.bytes is not None else None,
                      r.error, r.journal_id) for r in rows]


def drop_aborted(scan: AccountScan, by_bucket: ByBucket,
                 results: list[tuple[ScannedUpload, AbortResult]]) -> list[BucketReport]:
    """Take the uploads aborted from `scan` and `by_bucket`; the fresh
    reports of the buckets that held them."""
    gone = {row.upload.upload_id for row, r in results if r.ok}
    if not gone:
        return []
    scan.uploads = [u for u in scan.uploads if u.upload.upload_id not in gone]
    touched = {row.upload.bucket for row, r in results if r.ok}
    fresh = []
    for name in touched:  # recount only the buckets that changed
        old = scan.buckets.get(name)
        if old is None:
            continue
        report = BucketReport(old.name, old.region, old.protection, error=old.error,
                              directory=old.directory)
        rows = [u for u in by_bucket.get(name, []) if u.upload.upload_id not in gone]
        by_bucket[name] = rows
        for row in rows:
            report.add(row)
        scan.bucket_done(report)
        fresh.append(report)
    return fresh
