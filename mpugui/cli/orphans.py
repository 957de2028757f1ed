"""`mpugui uploads scan`, `uploads cleanup --all-buckets` and `uploads
lifecycle --all-buckets`: unfinished uploads across every bucket of an
account (see mpugui.core.orphans). Output, exit codes and the owner lock as
the per-bucket `mpugui uploads` commands (mpugui.cli.uploads)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from mpugui.cli.exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from mpugui.cli.uploads.aborts import confirm_abort, report_abort
from mpugui.cli.uploads.common import (
    Out,
    ages_from,
    forget_in_journal,
    journal_upload_ids,
    prices_for,
)
from mpugui.core.errors import MpuguiError
from mpugui.core.inventory.aborts import AbortResult, abort_uploads
from mpugui.core.inventory.errors import InventoryError
from mpugui.core.inventory.lifecycle import describe_rule
from mpugui.core.inventory.listing import Upload, format_age, format_cost, utc_now
from mpugui.core.orphans import bulk, memory
from mpugui.core.orphans.protection import PROTECTED, Protection
from mpugui.core.orphans.results import AccountScan, BucketReport, ScannedUpload, bucket_regions
from mpugui.core.orphans.scan import (
    AccountScanner,
    ScanListener,
    bucket_region,
    directory_buckets,
    list_buckets,
    merge_directory_buckets,
)
from mpugui.core.orphans.totals import totals
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import format_bytes, plural

_BUCKET_HEADER = (f"{'BUCKET':<32}  {'REGION':<14}  {'UPLOADS':>7}  {'BYTES':>10}  "
                  f"{'COST/MO*':>9}  {'OLDEST':>9}  ABORT RULE")


def _protection_cell(p: Protection | None) -> str:
    if p is None:
        return "?"
    if p.status == PROTECTED:
        return f"after {p.days} days"
    if p.rules:
        return "prefixes only: " + ", ".join(f"'{pre}' {d}d" for pre, d in p.rules)
    return "none" if p.error is None else "unknown (lifecycle not readable)"


def _bucket_line(b: BucketReport, now: datetime) -> str:
    oldest = format_age((now - b.oldest).total_seconds()) if b.oldest else "-"
    line = (f"{b.name:<32}  {b.region:<14}  {b.uploads:>7,}  {format_bytes(b.bytes):>10}  "
            f"{format_cost(b.monthly_cost):>9}  {oldest:>9}  "
            f"{_protection_cell(b.protection)}")
    for why in (b.error, b.protection.error if b.protection else None):
        if why:
            line += f"\n    {why}"
    return line


def _upload_line(row: ScannedUpload, now: datetime) -> str:
    u = row.upload
    size = format_bytes(row.bytes) if row.bytes is not None else "?"
    cost = format_cost(row.monthly_cost) if row.monthly_cost is not None else "?"
    known = f"#{row.journal_id}" if row.journal_id is not None else "-"
    line = (f"{format_age(u.age(now)):>9}  {size:>10}  {cost:>9}  {known:>5}  "
            f"{u.uri}  {u.upload_id}")
    return line + (f"\n    {row.error}" if row.error else "")


class _Collect(ScanListener):
    """Keeps the scan (for the summary and the last-scan memory) and hands
    each event on for printing; the scanner calls it one event at a time."""

    def __init__(self, scan: AccountScan, out: Out,
                 on_upload: Callable[[ScannedUpload], None],
                 on_bucket: Callable[[BucketReport], None]) -> None:
        self.scan, self._on_upload, self._on_bucket = scan, on_upload, on_bucket
        self._out = out
        self.listed = 0
        self.notes: list[str] = []

    def buckets_listed(self, names: list[str]) -> None:
        self.listed = len(names)

    def upload_found(self, row: ScannedUpload) -> None:
        self.scan.upload_found(row)
        self._on_upload(row)

    def bucket_done(self, report: BucketReport) -> None:
        self.scan.bucket_done(report)
        self._on_bucket(report)

    def bucket_skipped(self, name: str, region: str) -> None:
        self.scan.skipped_buckets += 1

    def note(self, text: str) -> None:
        self.notes.append(text)
        self._out.error(text)  # not a failure: the exit code does not change


def _run_scan(args: argparse.Namespace, endpoint: Endpoint, clients: ClientFactory,
              listener: _Collect, keep: Callable[[Upload], bool] | None = None
              ) -> AccountScan:
    """Run the scan in this thread's stead (so Ctrl-C reaches the main
    thread, stops the scan and waits for its threads)."""
    scan = listener.scan
    scanner = AccountScanner(clients, endpoint, listener, prices=prices_for(args, endpoint),
                             now=scan.started, journal_ids=journal_upload_ids(),
                             regions=getattr(args, "regions", None) or None, keep=keep)
    failure: list[BaseException] = []

    def body() -> None:
        try:
            scanner.run()
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    worker = threading.Thread(target=body, name="orphans-scan-main")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        scanner.stop()
        worker.join()
        scan.stopped = True
        raise
    if failure:
        raise failure[0]
    scan.finished = utc_now()
    return scan


def scan(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    now = ages_from(args)
    prices = prices_for(args, endpoint)
    account = endpoint.label()
    result = AccountScan(account, now)

    def on_upload(row: ScannedUpload) -> None:
        if out.json:
            out.obj({"event": "upload", **row.as_json(now)})

    def on_bucket(report: BucketReport) -> None:
        if out.json:
            out.obj({"event": "bucket", **report.as_json(now)})
        else:
            out.line(_bucket_line(report, now))

    out.line(_BUCKET_HEADER)
    collect = _Collect(result, out, on_upload, on_bucket)
    try:
        _run_scan(args, endpoint, ClientFactory(), collect)
    except KeyboardInterrupt:
        memory.save(result)
        out.error("Scan stopped; the buckets listed above are complete.")
        return EXIT_INTERRUPTED
    memory.save(result)
    t = totals(result.buckets.values())
    unsized = sum(b.unsized for b in result.buckets.values())
    if out.json:
        out.obj({"event": "summary", "now": now.isoformat(), "buckets": t.buckets,
                 "skipped_buckets": result.skipped_buckets, "uploads": t.uploads,
                 "parts": t.parts, "bytes": t.bytes,
                 "estimated_monthly_cost": round(t.monthly_cost, 6),
                 "unreadable_buckets": t.unreadable, "unsized_uploads": unsized,
                 "unprotected_buckets": t.unprotected, "top_buckets": t.top_buckets,
                 "top_share": round(t.top_share, 4), "prices_as_of": prices.as_of,
                 "prices": prices.describe(), "notes": collect.notes,
                 "directory_buckets": sum(1 for b in result.buckets.values() if b.directory),
                 "sentence": t.sentence()})
    else:
        out.line(t.sentence())
        if t.unprotected:
            have = "has" if t.unprotected == 1 else "have"
            out.line(f"{t.unprotected} of {plural(t.buckets, 'bucket')} {have} no rule that aborts "
                     "incomplete uploads: mpugui uploads lifecycle --all-buckets "
                     "--abort-after 7")
        if result.skipped_buckets:
            were = "was" if result.skipped_buckets == 1 else "were"
            out.line(f"{plural(result.skipped_buckets, 'bucket')} in other regions {were} "
                     "not scanned.")
        out.line(f"*estimated from {prices.describe()}; set your store's in the window's "
                 "Settings > Storage prices (prices.json, see the README).")
    return EXIT_FAILED if t.unreadable or unsized else EXIT_OK


def cleanup_all(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    now, age = ages_from(args), args.older_than
    clients = ClientFactory()
    result = AccountScan(endpoint.label(), now)
    cutoff = (now - timedelta(seconds=age)).astimezone()
    out.line(f"Uploads in every bucket initiated before {cutoff:%Y-%m-%d %H:%M} "
             f"(older than {format_age(age)}):")

    def on_upload(row: ScannedUpload) -> None:
        if out.json:
            out.obj({"event": "candidate", **row.as_json(now)})
        else:
            out.line(_upload_line(row, now))

    def on_bucket(report: BucketReport) -> None:
        if report.error:
            out.error(f"bucket {report.name}: {report.error}")

    try:
        _run_scan(args, endpoint, clients, _Collect(result, out, on_upload, on_bucket),
                  keep=lambda u: u.age(now) >= age)
    except KeyboardInterrupt:
        out.error("Stopped while looking for uploads; nothing was aborted.")
        return EXIT_INTERRUPTED
    candidates = result.uploads
    unreadable = sum(1 for b in result.buckets.values() if b.error)
    parts = sum(r.parts or 0 for r in candidates)
    size = sum(r.bytes or 0 for r in candidates)
    cost = sum(r.monthly_cost or 0.0 for r in candidates)
    known = sum(1 for r in candidates if r.journal_id is not None)
    buckets = len({r.upload.bucket for r in candidates})
    summary: dict[str, Any] = {
        "event": "summary", "dry_run": bool(args.dry_run), "now": now.isoformat(),
        "older_than_seconds": int(age), "candidates": len(candidates), "aborted": 0,
        "failed": 0, "parts": parts, "bytes": size,
        "estimated_monthly_cost": round(cost, 6), "buckets": buckets,
        "journal_known": known, "unreadable_buckets": unreadable}
    what = (f"{plural(len(candidates), 'upload')} in {plural(buckets, 'bucket')} holding "
            f"{plural(parts, 'part')}, {format_bytes(size)}, about {format_cost(cost)} a month")
    if not candidates or args.dry_run:
        out.line(f"Dry run: {what} would be aborted." if args.dry_run and candidates
                 else "No upload is that old; nothing to abort.")
        if out.json:
            out.obj(summary)
        return EXIT_FAILED if unreadable else EXIT_OK
    if not args.yes:
        mine = (f" ({known} of them are transfers in this app's journal, which will be "
                "cancelled)") if known else ""
        if (refused := confirm_abort(what, out, mine)) is not None:
            return refused
    gone: set[str] = set()

    by_id = {row.upload.address: row for row in candidates}

    def report(res: AbortResult) -> None:
        row = by_id[res.upload.address]
        summary["aborted" if res.ok else "failed"] += 1
        if res.ok:
            gone.add(row.upload.upload_id)
        report_abort(res, row.parts, row.bytes, out, row.region)

    abort_uploads(clients, endpoint, [row.upload for row in candidates],
                  regions=bucket_regions(candidates), on_result=report)
    forget_in_journal(gone)
    out.line(f"Aborted {summary['aborted']} of {plural(len(candidates), 'upload')}"
             + (f"; {summary['failed']} failed." if summary["failed"] else "."))
    if out.json:
        out.obj(summary)
    return EXIT_FAILED if summary["failed"] or unreadable else EXIT_OK


def _regions_of(clients: ClientFactory, endpoint: Endpoint, out: Out,
                regions: list[str] | None
                ) -> list[tuple[str, str | None, str | None]]:
    """(bucket, region or None, why the region is unknown) for every bucket,
    the directory buckets included."""
    base = clients.client(endpoint)
    entries = list_buckets(base)
    found, notes = directory_buckets(clients, endpoint, regions)
    entries = merge_directory_buckets(entries, found)
    for text in notes:
        out.error(text)

    def one(entry: Any) -> tuple[str, str | None, str | None]:
        if entry.region:
            return entry.name, entry.region, None
        try:
            return entry.name, bucket_region(base, entry.name), None
        except (InventoryError, MpuguiError) as exc:
            return entry.name, None, str(exc)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, entries))


def lifecycle_all(args: argparse.Namespace, endpoint: Endpoint, out: Out) -> int:
    clients = ClientFactory()
    wanted = set(getattr(args, "regions", None) or [])
    found = _regions_of(clients, endpoint, out, sorted(wanted) or None)
    counts = {"buckets": 0, "changed": 0, "applied": 0, "failed": 0}

    def emit(res: bulk.ProtectResult) -> None:
        counts["buckets"] += 1
        change = res.change
        if change is None:
            counts["failed"] += 1
        else:
            counts["changed"] += change.changed
            counts["applied"] += change.applied
        if out.json:
            out.obj({"event": "lifecycle", "bucket": res.bucket, "region": res.region,
                     "prefix": "", "abort_after_days": args.abort_after,
                     "changed": bool(change and change.changed),
                     "applied": bool(change and change.applied),
                     "dry_run": bool(args.dry_run),
                     "before": change.before if change else None,
                     "after": change.after if change else None, "error": res.error})
        elif change is None:
            out.error(res.sentence())
        else:
            out.line(res.sentence())
            if change.changed:
                for rule in change.before:
                    out.line(f"    before: {describe_rule(rule)}")
                for rule in change.after:
                    out.line(f"    after:  {describe_rule(rule)}")

    todo = []
    for name, region, why in found:
        if region is None:
            emit(bulk.ProtectResult(name, "", None, why))
        elif not wanted or region in wanted:
            todo.append((name, region))

    def one(item: tuple[str, str]) -> list[bulk.ProtectResult]:
        return bulk.protect_all(clients, endpoint, [item], args.abort_after,
                                dry_run=args.dry_run)

    with ThreadPoolExecutor(8) as pool:
        for results in pool.map(one, todo):  # in bucket order, as they finish
            for res in results:
                emit(res)
    if out.json:
        out.obj({"event": "summary", "dry_run": bool(args.dry_run), **counts})
    else:
        verb = "would change" if args.dry_run else "changed"
        out.line(f"{plural(counts['buckets'], 'bucket')}: {verb} {counts['changed']}, "
                 f"failed {counts['failed']}." + (" Dry run: nothing was written."
                                                   if args.dry_run else ""))
    return EXIT_FAILED if counts["failed"] else EXIT_OK
