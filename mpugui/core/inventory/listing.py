"""A bucket's in-progress multipart uploads, Qt-free: list them (paginated),
list an upload's parts, what they hold and cost, how old they are.

Incomplete uploads are billed storage that no object listing shows; this is
what the uploads browser and `mpugui uploads ...` are built on. The clock is
passed in (`now`) everywhere ages matter, so tests can choose it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import error_code
from mpugui.core.inventory.errors import InventoryError, UploadGone, fail
from mpugui.core.journal.store import Journal, TransferRecord
from mpugui.core.transfer import multipart

PAGE_SIZE = 1000  # S3's maximum for ListMultipartUploads and ListParts


# -- listing uploads -----------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str
    upload_id: str
    initiated: datetime  # timezone-aware
    initiator: str = ""
    owner: str = ""
    storage_class: str = ""
    checksum_algorithm: str | None = None  # as S3 names it: CRC32, CRC32C, SHA256...
    checksum_type: str | None = None  # COMPOSITE or FULL_OBJECT

    @property
    def address(self) -> tuple[str, str, str]:
        """What names one upload across buckets (an upload id alone may repeat)."""
        return (self.bucket, self.key, self.upload_id)

    def age(self, now: datetime) -> float:
        """Seconds since the upload was initiated."""
        return (now - self.initiated).total_seconds()

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _person(entry: dict[str, Any] | None) -> str:
    if not entry:
        return ""
    return str(entry.get("DisplayName") or entry.get("ID") or "")


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return parse_time(str(value))


def _upload(bucket: str, item: dict[str, Any]) -> Upload:
    return Upload(
        bucket=bucket, key=str(item["Key"]), upload_id=str(item["UploadId"]),
        initiated=_aware(item.get("Initiated") or datetime.fromtimestamp(0, timezone.utc)),
        initiator=_person(item.get("Initiator")), owner=_person(item.get("Owner")),
        storage_class=str(item.get("StorageClass") or "STANDARD"),
        checksum_algorithm=item.get("ChecksumAlgorithm") or None,
        checksum_type=item.get("ChecksumType") or None)


def upload_pages(client: Any, bucket: str, prefix: str = "", page_size: int = PAGE_SIZE,
                 cancel: threading.Event | None = None) -> Iterator[list[Upload]]:
    """Every in-progress upload under `prefix`, one page at a time, following
    key-marker + upload-id-marker. Stops early when `cancel` is set."""
    key_marker = upload_marker = ""
    while cancel is None or not cancel.is_set():
        page, key_marker, upload_marker = fetch_upload_page(
            client, bucket, prefix, key_marker, upload_marker, page_size)
        yield page
        if key_marker is None:
            return


def fetch_upload_page(client: Any, bucket: str, prefix: str, key_marker: str,
                      upload_marker: str, page_size: int = PAGE_SIZE
                      ) -> tuple[list[Upload], Any, str]:
    """One ListMultipartUploads page: (uploads, next key marker or None when
    this was the last page, next upload-id marker). The GUI calls this once
    per background task so rows arrive page by page."""
    args: dict[str, Any] = {"Bucket": bucket, "MaxUploads": page_size}
    if prefix:
        args["Prefix"] = prefix
    if key_marker:
        args["KeyMarker"] = key_marker
        if upload_marker:
            args["UploadIdMarker"] = upload_marker
    try:
        resp = client.list_multipart_uploads(**args)
    except ClientError as exc:
        raise fail(exc, bucket) from exc
    items = resp.get("Uploads", [])
    page = [_upload(bucket, item) for item in items]
    if not resp.get("IsTruncated") or not items:
        return page, None, ""
    next_key = resp.get("NextKeyMarker") or items[-1]["Key"]
    next_upload = resp.get("NextUploadIdMarker") or items[-1]["UploadId"]
    if (next_key, next_upload) == (key_marker, upload_marker):
        # A store that repeats its markers would loop forever; stop instead.
        raise InventoryError(f"The server's listing of bucket '{bucket}' did not advance "
                             f"past key '{next_key}'; the list may be incomplete.")
    return page, next_key, next_upload


def list_uploads(client: Any, bucket: str, prefix: str = "",
                 page_size: int = PAGE_SIZE) -> list[Upload]:
    return [u for page in upload_pages(client, bucket, prefix, page_size) for u in page]


def find_upload(client: Any, bucket: str, key: str, upload_id: str) -> Upload:
    for page in upload_pages(client, bucket, key):
        for u in page:
            if u.key == key and u.upload_id == upload_id:
                return u
    raise InventoryError(f"There is no in-progress upload {upload_id} of s3://{bucket}/{key} "
                         "(it was completed, aborted or expired, or the ID is wrong).")


# -- parts -------------------------------------------------------------------------

_CHECKSUM_FIELDS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str
    last_modified: datetime | None = None
    checksum_algorithm: str | None = None  # S3's name, when the part lists a checksum
    checksum: str | None = None  # base64, as S3 lists it


def _part(item: dict[str, Any]) -> PartInfo:
    algo = value = None
    for name in _CHECKSUM_FIELDS:
        if item.get(f"Checksum{name}"):
            algo, value = name, str(item[f"Checksum{name}"])
            break
    modified = item.get("LastModified")
    return PartInfo(int(item["PartNumber"]), int(item.get("Size", 0)), str(item.get("ETag", "")),
                    _aware(modified) if modified else None, algo, value)


def list_upload_parts(client: Any, bucket: str, key: str, upload_id: str,
                      max_parts: int = PAGE_SIZE) -> list[PartInfo]:
    """Every part of one upload (paginated by part-number-marker)."""
    try:
        raw = multipart.list_parts(client, bucket, key, upload_id, max_parts=max_parts)
    except ClientError as exc:
        if error_code(exc) == "NoSuchUpload":
            raise UploadGone(f"The upload {upload_id} of s3://{bucket}/{key} no longer "
                                 "exists (completed, aborted or expired).") from exc
        raise fail(exc, bucket) from exc
    return sorted((_part(p) for p in raw), key=lambda p: p.number)


@dataclass(frozen=True)
class Usage:
    parts: int
    bytes: int


def usage(parts: Iterable[PartInfo]) -> Usage:
    listed = list(parts)
    return Usage(len(listed), sum(p.size for p in listed))


def format_age(seconds: float) -> str:
    """Compact and readable: '12 min', '5 h', '3 days', '4 months', '2 years'."""
    s = max(0.0, seconds)
    if s < 3600:
        return f"{int(s // 60)} min"
    if s < 2 * 86400:
        return f"{int(s // 3600)} h"
    days = s / 86400
    if days < 60:
        return f"{int(days)} days"
    if days < 730:
        return f"{int(days // 30.44)} months"
    return f"{int(days // 365.25)} years"


def format_cost(usd: float) -> str:
    if usd == 0:
        return "$0"
    return f"${usd:,.2f}" if usd >= 0.995 else f"${usd:.4f}"


def journal_index(journal: Journal) -> dict[str, TransferRecord]:
    """The journal's transfers by upload id: which uploads this app knows."""
    return {r.upload_id: r for r in journal.transfers() if r.upload_id}


# -- age and "now" ------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """ISO 8601 ('2010-11-20T00:00:00Z', '2010-11-20'); naive means UTC."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InventoryError(f"'{text}' is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z)."
                             ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def older_than(uploads: Iterable[Upload], age_seconds: float, now: datetime) -> list[Upload]:
    """The uploads initiated at least `age_seconds` before `now`."""
    return [u for u in uploads if u.age(now) >= age_seconds]
