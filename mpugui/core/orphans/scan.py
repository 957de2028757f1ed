"""Scan an account for unfinished uploads: every bucket the credentials can
list, each in its own region, its uploads listed page by page and sized with
ListParts, on a bounded pool; results stream to a listener; stoppable.

Failures stay with the bucket or upload they concern (a denied bucket is
reported with its sentence, never dropped); only failing to list the
buckets at all fails the scan.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mpugui.core.errors import MpuguiError, describe, error_code
from mpugui.core.inventory.errors import InventoryError, UploadGone
from mpugui.core.inventory.listing import (
    PAGE_SIZE,
    Upload,
    list_upload_parts,
    upload_pages,
    usage,
    utc_now,
)
from mpugui.core.orphans.directory import (
    DirectoryListingError,
    is_directory_bucket,
    list_directory_buckets,
    quiet_failure,
    regions_to_ask,
)
from mpugui.core.orphans.prices import DEFAULT_REGION, PriceTable
from mpugui.core.orphans.protection import read_protection
from mpugui.core.orphans.results import BucketReport, ScannedUpload
from mpugui.core.orphans.workpool import WorkPool
from mpugui.core.s3.endpoint import ClientFactory, Endpoint

log = logging.getLogger("mpugui.orphans")

DEFAULT_THREADS = 8  # requests in flight; each is one small round trip
_SIZE_FIRST, _BUCKET_NEXT = 0, 1  # finish a bucket's uploads before starting another


class ScanListener:
    """What a scan tells as it goes; called from the scan's threads, one
    call at a time. Override what you need."""

    def buckets_listed(self, names: list[str]) -> None:
        """Every bucket the account lists (before any of them is scanned)."""

    def upload_found(self, row: ScannedUpload) -> None:
        """One sized upload (or one whose parts could not be listed)."""

    def bucket_done(self, report: BucketReport) -> None:
        """A bucket's totals, once all its uploads are in (or listing failed)."""

    def bucket_skipped(self, name: str, region: str) -> None:
        """A bucket outside the regions asked for."""

    def note(self, text: str) -> None:
        """A sentence about the scan that is no failure (directory buckets
        this store does not list)."""


@dataclass(frozen=True)
class BucketEntry:
    name: str
    region: str | None = None  # when ListBuckets says (AWS's BucketRegion)

    @property
    def directory(self) -> bool:
        return is_directory_bucket(self.name)


def region_from_location(constraint: str | None) -> str:
    """GetBucketLocation's answer as a region name: S3 says nothing for
    us-east-1 and 'EU' for the oldest eu-west-1 buckets."""
    if not constraint:
        return DEFAULT_REGION
    return "eu-west-1" if constraint == "EU" else constraint


def list_buckets(client: Any, page_size: int | None = None) -> list[BucketEntry]:
    """Every bucket, following ContinuationToken where the store paginates
    (AWS does past 10,000 buckets or when asked for fewer a page)."""
    out: list[BucketEntry] = []
    token = ""
    while True:
        args: dict[str, Any] = {}
        if page_size:
            args["MaxBuckets"] = page_size
        if token:
            args["ContinuationToken"] = token
        try:
            resp = client.list_buckets(**args)
        except ClientError as exc:
            if error_code(exc) in ("AccessDenied", "403"):
                raise InventoryError(
                    "Access denied: listing the account's buckets needs the "
                    "s3:ListAllMyBuckets permission, which these credentials do not "
                    "have.") from exc
            raise InventoryError(describe(exc, op="listing the buckets")) from exc
        out.extend(BucketEntry(str(b["Name"]), b.get("BucketRegion") or None)
                   for b in resp.get("Buckets", []))
        next_token = resp.get("ContinuationToken") or ""
        if not next_token or next_token == token:
            return out
        token = next_token


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region: GetBucketLocation, else the region header that
    HeadBucket answers with (also on a 403)."""
    try:
        resp = client.get_bucket_location(Bucket=bucket)
        return region_from_location(resp.get("LocationConstraint"))
    except ClientError as exc:
        header = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) \
            .get("x-amz-bucket-region")
        if header:
            return str(header)
    try:
        head = client.head_bucket(Bucket=bucket)
        header = head.get("ResponseMetadata", {}).get("HTTPHeaders", {}) \
            .get("x-amz-bucket-region")
    except ClientError as exc:
        header = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) \
            .get("x-amz-bucket-region")
    if header:
        return str(header)
    raise InventoryError(f"The region of bucket '{bucket}' could not be found "
                             "(GetBucketLocation and HeadBucket were refused).")


def listing_region(client: Any, bucket: str, endpoint: Endpoint) -> str:
    """The region a bucket's uploads are priced in when one bucket is listed
    (the In-progress tab, `uploads list`): its own, as the account scan
    finds it; the account's region (or us-east-1) when the store won't say."""
    try:
        return bucket_region(client, bucket)
    except (InventoryError, BotoCoreError) as exc:
        log.info("Pricing s3://%s in the account's region: %s", bucket, exc)
        return endpoint.region or DEFAULT_REGION


def directory_buckets(clients: ClientFactory, endpoint: Endpoint,
                      regions: Collection[str] | None = None, threads: int = DEFAULT_THREADS,
                      stop: threading.Event | None = None
                      ) -> tuple[list[BucketEntry], list[str]]:
    """Directory buckets, region by region (a few calls at once), and the
    sentences of what kept them from being listed: notes, never a failure."""
    asked = regions_to_ask(endpoint.endpoint_url, set(regions) if regions else None,
                           endpoint.region)
    notes: list[str] = []

    def one(region: str | None) -> list[BucketEntry]:
        if stop is not None and stop.is_set():
            return []
        where = endpoint if region is None else endpoint.with_(region=region)
        try:
            return [BucketEntry(name, at) for name, at in
                    list_directory_buckets(clients.client(where))]
        except DirectoryListingError as exc:
            notes.append(str(exc))
        except ClientError as exc:
            notes.append(f"Directory buckets in {region or 'this store'} could not be "
                         f"listed: {describe(exc)}")
        except Exception as exc:  # BotoCoreError: no S3 Express reachable there
            if not quiet_failure(exc):
                log.exception("Listing directory buckets in %s failed", region)
            log.info("No directory buckets listed in %s: %s", region, exc)
        return []

    with ThreadPoolExecutor(max(1, min(threads, len(asked))),
                            thread_name_prefix="orphans-scan-dir") as pool:
        found = [e for part in pool.map(one, asked) for e in part]
    return found, list(dict.fromkeys(notes))  # one sentence, however many regions said it


def merge_directory_buckets(general: list[BucketEntry], directory: list[BucketEntry]
                            ) -> list[BucketEntry]:
    """Both listings as one: ListBuckets never names a directory bucket on
    AWS, but a store may list one in both (moto does); its directory
    listing, which knows the region, wins."""
    names = {e.name for e in directory}
    return [e for e in general if e.name not in names] + directory


@dataclass
class ScanOutcome:
    buckets: int  # listed by the account
    skipped: int  # outside the regions asked for
    stopped: bool


class _Tally:
    """A bucket in progress: its report and how many uploads are being sized."""

    def __init__(self, report: BucketReport) -> None:
        self.report = report
        self.sizing = 0
        self.listed = False  # every page is in


class AccountScanner:
    """One scan of one account. `run()` blocks until it is done or
    stopped and always leaves no thread behind; `stop()` may be called from
    any thread."""

    def __init__(self, clients: ClientFactory, endpoint: Endpoint, listener: ScanListener, *,
                 prices: PriceTable | None = None, now: datetime | None = None,
                 journal_ids: Mapping[str, int] | None = None,
                 regions: Collection[str] | None = None,
                 keep: Callable[[Upload], bool] | None = None,
                 threads: int = DEFAULT_THREADS, page_size: int = PAGE_SIZE) -> None:
        self._clients, self._endpoint, self._listener = clients, endpoint, listener
        self._prices = prices or PriceTable()
        self._now = now or utc_now()
        self._journal_ids = dict(journal_ids or {})
        self._regions = set(regions) if regions else None
        self._keep = keep  # only uploads it keeps are sized and reported
        self._threads, self._page_size = threads, page_size
        self._stop = threading.Event()
        self._emit = threading.Lock()  # listener calls and tallies, one at a time
        self._pool: WorkPool | None = None
        self._skipped = 0

    @property
    def now(self) -> datetime:
        return self._now

    def stop(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.stop()

    def run(self) -> ScanOutcome:
        base = self._client(self._endpoint.region)
        try:
            entries = list_buckets(base)
        except BotoCoreError as exc:
            raise InventoryError(describe(exc)) from exc
        entries = merge_directory_buckets(entries, self._directory_buckets())
        self._listener.buckets_listed([e.name for e in entries])
        pool = self._pool = WorkPool(self._threads)
        try:
            if self._stop.is_set():
                pool.stop()
            for entry in entries:
                pool.submit(functools.partial(self._bucket, entry), _BUCKET_NEXT)
            pool.wait_idle()
        finally:
            pool.join()
        return ScanOutcome(len(entries), self._skipped, self._stop.is_set())

    def _directory_buckets(self) -> list[BucketEntry]:
        found, notes = directory_buckets(self._clients, self._endpoint, self._regions,
                                         self._threads, self._stop)
        for text in notes:
            self._listener.note(text)
        return found

    # -- per bucket ------------------------------------------------------------

    def _client(self, region: str | None) -> Any:
        endpoint = self._endpoint if region is None else self._endpoint.with_(region=region)
        return self._clients.client(endpoint)

    def _bucket(self, entry: BucketEntry) -> None:
        report = BucketReport(entry.name, entry.region or "", directory=entry.directory)
        try:
            if not report.region:
                report.region = bucket_region(self._client(self._endpoint.region), entry.name)
        except Exception as exc:  # InventoryError, BotoCoreError, MpuguiError, ...
            report.error = describe(exc, bucket=entry.name)
            self._done(_Tally(report))
            return
        if self._regions is not None and report.region not in self._regions:
            with self._emit:
                self._skipped += 1
                self._listener.bucket_skipped(entry.name, report.region)
            return
        tally = _Tally(report)
        try:
            client = self._client(report.region)
            report.protection = read_protection(client, entry.name)
            for page in upload_pages(client, entry.name, page_size=self._page_size,
                                         cancel=self._stop):
                wanted = [u for u in page if self._keep is None or self._keep(u)]
                with self._emit:
                    tally.sizing += len(wanted)
                for upload in wanted:
                    assert self._pool is not None
                    self._pool.submit(functools.partial(self._size, client, tally, upload),
                                      _SIZE_FIRST)
        except InventoryError as exc:
            report.error = str(exc)
        except Exception as exc:  # BotoCoreError, or a bug: the bucket is still shown
            if not isinstance(exc, BotoCoreError):
                log.exception("Listing the uploads of %s failed", entry.name)
            report.error = describe(exc, bucket=entry.name)
        with self._emit:
            tally.listed = True
            finished = tally.sizing == 0
        if finished:
            self._done(tally)

    def _size(self, client: Any, tally: _Tally, upload: Upload) -> None:
        row: ScannedUpload | None
        region = tally.report.region
        try:
            use = usage(list_upload_parts(client, upload.bucket, upload.key,
                                                  upload.upload_id))
            row = ScannedUpload(upload, region, use.parts, use.bytes,
                                self._prices.monthly_cost(use.bytes, upload.storage_class,
                                                          region),
                                self._journal_ids.get(upload.upload_id))
        except UploadGone:
            row = None  # completed or aborted since the listing: not unfinished any more
        except (InventoryError, MpuguiError) as exc:
            row = ScannedUpload(upload, region, journal_id=self._journal_ids.get(
                upload.upload_id), error=str(exc))
        except Exception as exc:  # BotoCoreError, or a bug: the upload is still shown
            if not isinstance(exc, BotoCoreError):
                log.exception("Sizing %s failed", upload.uri)
            row = ScannedUpload(upload, region, journal_id=self._journal_ids.get(
                upload.upload_id), error=describe(exc, bucket=upload.bucket))
        with self._emit:
            if row is not None:
                tally.report.add(row)
                self._listener.upload_found(row)
            tally.sizing -= 1
            finished = tally.listed and tally.sizing == 0
        if finished:
            self._done(tally)

    def _done(self, tally: _Tally) -> None:
        if self._stop.is_set():
            return  # a stopped scan reports no bucket as complete
        with self._emit:
            self._listener.bucket_done(tally.report)
