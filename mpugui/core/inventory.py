"""In-progress multipart uploads of a bucket, Qt-free: list them (paginated),
inspect their parts, estimate what they cost, abort them (one by one or by
age), adopt one with the local file, and set the bucket's lifecycle rule that
aborts them server-side.

Incomplete uploads are billed storage that no object listing shows; this is
what the uploads browser and `mpugui uploads ...` are built on. The clock is
passed in (`now`) everywhere ages matter, so tests can choose it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import MpuguiError, describe, error_code
from mpugui.core.journal.store import PAUSED, Journal, TransferRecord
from mpugui.core.s3.checksums import clean_etag, is_md5_etag
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.s3.plan import (
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    TAPER_V1,
    Plan,
    PlanError,
    make_plan,
)
from mpugui.core.sources import identity
from mpugui.core.transfer import multipart
from mpugui.core.units import format_bytes

try:
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover - depends on the platform
    _crt = None  # type: ignore[assignment]  # the module or None, tested before use

PAGE_SIZE = 1000  # S3's maximum for ListMultipartUploads and ListParts
ABORT_RULE_ID = "mpugui-abort-incomplete-multipart-uploads"


class InventoryError(MpuguiError):
    """A listing, abort, adopt or lifecycle step failed; the message is a sentence."""


class UploadGone(InventoryError):
    """The upload was completed, aborted or expired since it was listed."""


class AdoptRefused(InventoryError):
    """The local file cannot continue this upload; the message says why."""


# -- access denied, per permission ---------------------------------------------

# S3 operation -> (IAM action it needs, what the user was doing)
_PERMISSIONS = {
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads",
                             "listing the in-progress uploads of"),
    "ListParts": ("s3:ListMultipartUploadParts", "listing the parts of an upload in"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "aborting uploads in"),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration",
                                        "reading the lifecycle rules of"),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",
                                        "changing the lifecycle rules of"),
}


def explain(exc: BaseException, bucket: str = "") -> str:
    """One sentence for a failed call; an access denial names the missing
    permission (botocore's ClientError knows which operation failed)."""
    op = getattr(exc, "operation_name", "") or ""
    perm = _PERMISSIONS.get(op)
    if perm and error_code(exc) in ("AccessDenied", "403", "Forbidden"):
        action, doing = perm
        return (f"Access denied: {doing} bucket '{bucket}' needs the {action} permission, "
                "which these credentials do not have.")
    return describe(exc, bucket=bucket, op=perm[0] if perm else "this operation")


def _fail(exc: ClientError, bucket: str) -> InventoryError:
    return InventoryError(explain(exc, bucket))


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
        raise _fail(exc, bucket) from exc
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
        raise _fail(exc, bucket) from exc
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


# -- abort -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AbortResult:
    upload: Upload
    ok: bool
    error: str | None = None


def abort(client: Any, upload: Upload) -> AbortResult:
    """Abort one upload, then ListParts until it is gone (a part racing the
    abort can still land: abort again). Never raises for S3 errors."""
    try:
        multipart.abort_until_empty(client, upload.bucket, upload.key, upload.upload_id)
    except ClientError as exc:
        return AbortResult(upload, False, explain(exc, upload.bucket))
    except MpuguiError as exc:
        return AbortResult(upload, False, str(exc))
    return AbortResult(upload, True)


def abort_many(client: Any, uploads: Iterable[Upload],
               on_result: Callable[[AbortResult], None] | None = None,
               cancel: threading.Event | None = None) -> list[AbortResult]:
    results = []
    for upload in uploads:
        if cancel is not None and cancel.is_set():
            break
        result = abort(client, upload)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


# -- adopt: continue an upload with the local file ----------------------------------------

_S3_TO_ALGORITHM = {"CRC32": "crc32", "CRC32C": "crc32c", "SHA256": "sha256"}


@dataclass(frozen=True)
class Mismatch:
    number: int
    reason: str  # a sentence


@dataclass
class Progress:
    """Counters a worker bumps and a timer reads (no signal per chunk)."""

    total: int = 0
    done: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class AdoptCheck:
    upload: Upload
    path: str
    file_size: int
    part_size: int
    part_count: int
    checksum: str  # the engine's algorithm name for the parts still to send
    parts: list[PartInfo]
    taper: int = 0  # the plan's taper: the upload is ours, cut with smaller final parts
    verified: list[int] = field(default_factory=list)
    unverifiable: list[int] = field(default_factory=list)  # will be sent again
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def missing(self) -> list[int]:
        have = set(self.verified)
        return [n for n in range(1, self.part_count + 1) if n not in have]

    def summary(self) -> str:
        if not self.ok:
            return (f"{len(self.mismatches)} of {len(self.parts)} uploaded parts do not match "
                    f"'{self.path}'; nothing was completed.")
        each = "up to " if self.taper else ""
        return (f"{len(self.verified)} of {self.part_count} parts match the file "
                f"({each}{format_bytes(self.part_size)} each); {len(self.missing)} will be sent.")


def engine_checksum(upload: Upload) -> str:
    """The per-part checksum the engine must send to continue this upload."""
    if upload.checksum_type == "FULL_OBJECT":
        raise AdoptRefused(f"The upload of {upload.uri} uses a full-object checksum, which "
                           "this app cannot complete; finish it with the program that started "
                           "it, or abort it.")
    algo = upload.checksum_algorithm
    if not algo:
        return "md5"  # the upload needs no checksum; Content-MD5 still guards each part
    if algo.upper() not in _S3_TO_ALGORITHM:
        raise AdoptRefused(f"The upload of {upload.uri} uses {algo} part checksums, which this "
                           "app cannot send; finish it with the program that started it, "
                           "or abort it.")
    return _S3_TO_ALGORITHM[algo.upper()]


def infer_part_size(parts: list[PartInfo], file_size: int) -> int:
    """The part size the existing parts were cut with; AdoptRefused when the
    listed sizes cannot come from one file of `file_size` bytes."""
    if not parts:
        return make_plan(file_size, threshold=0).part_size
    ordered = sorted(parts, key=lambda p: p.number)
    last = ordered[-1]
    body = ordered[:-1]
    sizes = {p.size for p in body}
    if len(sizes) > 1:
        raise AdoptRefused("The uploaded parts have different sizes ("
                           + ", ".join(format_bytes(s) for s in sorted(sizes))
                           + "); only the last part may be smaller, so this is not one file "
                             "cut into equal parts.")
    if sizes:
        size = sizes.pop()
        if last.size > size:
            raise AdoptRefused(f"Part {last.number} ({format_bytes(last.size)}) is larger than "
                               f"the parts before it ({format_bytes(size)}).")
        return size
    # One listed part: it is either a full part, or the file's short last part.
    if last.number == 1 or last.number * last.size <= file_size:
        return last.size
    rest = file_size - last.size
    if rest > 0 and rest % (last.number - 1) == 0 and rest // (last.number - 1) >= last.size:
        return rest // (last.number - 1)
    return last.size  # no cut of this file fits: the size check reports the mismatch


def _hasher(s3_name: str | None) -> tuple[Callable[[bytes | memoryview], None],
                                          Callable[[], str]]:
    """Incremental checksum for a part of any size: update, then base64."""
    if s3_name in ("SHA256", "SHA1"):
        h = hashlib.new(s3_name.lower())
        return h.update, lambda: base64.b64encode(h.digest()).decode()
    state = {"v": 0}
    if s3_name == "CRC32":
        def update(data: bytes | memoryview) -> None:
            state["v"] = zlib.crc32(data, state["v"])
        width = 4
    elif s3_name in ("CRC32C", "CRC64NVME") and _crt is not None:
        fn = _crt.crc32c if s3_name == "CRC32C" else _crt.crc64nvme

        def update(data: bytes | memoryview) -> None:
            # awscrt reads any buffer; its stubs say bytes.
            state["v"] = fn(data, state["v"])  # type: ignore[arg-type]
        width = 4 if s3_name == "CRC32C" else 8
    else:
        raise ValueError(s3_name)
    return update, lambda: base64.b64encode(state["v"].to_bytes(width, "big")).decode()


def _verify_part(fd: int, part: PartInfo, offset: int, progress: Progress) -> str | None:
    """None when the part holds the local bytes at `offset`; 'unverifiable'
    when neither an MD5 ETag nor a checksum we can compute is listed; else a
    sentence saying what differs."""
    use_md5 = is_md5_etag(part.etag)
    update: Callable[[bytes], None]
    final: Callable[[], str]
    if use_md5:
        md5 = hashlib.md5()
        update, final = md5.update, md5.hexdigest
    else:
        try:
            if not part.checksum:
                raise ValueError(part.checksum_algorithm)
            update, final = _hasher(part.checksum_algorithm)
        except ValueError:
            progress.done += part.size
            return "unverifiable"
    left, pos = part.size, offset
    while left:
        if progress.cancel.is_set():
            raise InventoryError("The verification was cancelled.")
        chunk = os.pread(fd, min(left, 8 * 1024 * 1024), pos)
        if not chunk:
            return f"Part {part.number} reaches past the end of the file."
        update(chunk)
        left -= len(chunk)
        pos += len(chunk)
        progress.done += len(chunk)
    ours = final()
    if use_md5:
        if ours != clean_etag(part.etag):
            return (f"Part {part.number} (bytes {offset:,}–{offset + part.size - 1:,}) differs "
                    f"from the file: the server's MD5 is {clean_etag(part.etag)}, "
                    f"the file's is {ours}.")
    elif ours != part.checksum:
        return (f"Part {part.number} (bytes {offset:,}–{offset + part.size - 1:,}) differs from "
                f"the file: the server's {part.checksum_algorithm} is {part.checksum}, "
                f"the file's is {ours}.")
    return None


def _equal_parts_plan(parts: list[PartInfo], file_size: int, path: str) -> Plan:
    part_size = infer_part_size(parts, file_size)
    if part_size < MIN_PART_SIZE:
        if file_size > part_size:
            raise AdoptRefused(
                f"The uploaded parts are {format_bytes(part_size)} each; S3 accepts parts "
                f"under {format_bytes(MIN_PART_SIZE)} only as the last part, so this upload "
                "can never be completed. Abort it instead.")
        raise AdoptRefused(
            f"The upload holds a single part of {format_bytes(part_size)}; this app continues "
            f"uploads cut into parts of at least {format_bytes(MIN_PART_SIZE)}. Upload the file "
            "again and abort this upload.")
    try:
        plan = make_plan(file_size, max(part_size, MIN_PART_SIZE), threshold=0)
    except PlanError as exc:
        raise AdoptRefused(str(exc)) from exc
    if plan.part_size != part_size:
        raise AdoptRefused(f"'{path}' ({format_bytes(file_size)}) would need more than 10,000 "
                           f"parts of {format_bytes(part_size)}; it cannot be the file this "
                           "upload was started with.")
    return plan


def _sizes_fit(plan: Plan, parts: list[PartInfo]) -> bool:
    return all(p.number <= plan.part_count and plan.part(p.number).size == p.size
               for p in parts)


def fit_plan(parts: list[PartInfo], file_size: int, path: str) -> Plan:
    """The cut of the file that the listed parts come from: equal parts (what
    most tools make, and what every store accepts) when they fit, else this
    app's tapered cut (an upload of ours whose journal is gone). AdoptRefused
    when neither fits; size mismatches of the equal cut are reported part by
    part by the caller."""
    refusal: AdoptRefused | None = None
    try:
        plan = _equal_parts_plan(parts, file_size, path)
        if _sizes_fit(plan, parts):
            return plan
    except AdoptRefused as exc:
        refusal = exc
    for size in dict.fromkeys((max((p.size for p in parts), default=0), DEFAULT_PART_SIZE)):
        try:
            tapered = make_plan(file_size, size, threshold=0, taper=TAPER_V1)
            equal = make_plan(file_size, size, threshold=0)
        except PlanError:
            continue
        if tapered.taper and tapered.parts() != equal.parts() and _sizes_fit(tapered, parts):
            return tapered
    sizes = [p.size for p in sorted(parts, key=lambda p: p.number)]
    if refusal is not None and len(set(sizes)) > 1 and all(
            a >= b for a, b in itertools.pairwise(sizes)):
        # Parts that only shrink are a tapered cut like ours, of a file of
        # another size: say the file does not fit, not that the cut is odd.
        raise AdoptRefused(
            f"'{os.path.basename(path)}' ({format_bytes(file_size)}) does not fit this upload: "
            f"its {len(parts):,} parts ({format_bytes(sum(sizes))} so far, "
            f"{format_bytes(sizes[0])} down to {format_bytes(sizes[-1])}) were cut from a file "
            "of another size. Choose the file the upload was started with.") from None
    if refusal is not None:
        raise refusal
    return plan


def check_adoption(client: Any, upload: Upload, path: str, *, progress: Progress | None = None,
                   parts: list[PartInfo] | None = None,
                   max_parts: int = PAGE_SIZE) -> AdoptCheck:
    """Whether `path` can continue `upload`: the listed part sizes must fit
    one cut of the file, and every uploaded part must hold the file's bytes
    at its position (MD5 vs ETag, or the listed part checksum). Raises
    AdoptRefused when the sizes cannot fit; mismatches are listed part by part
    in the result."""
    progress = progress or Progress()
    checksum = engine_checksum(upload)
    if parts is None:
        parts = list_upload_parts(client, upload.bucket, upload.key, upload.upload_id,
                                  max_parts=max_parts)
    try:
        file_size = os.stat(path).st_size
    except OSError as exc:
        raise AdoptRefused(describe(exc)) from exc
    if file_size == 0:
        raise AdoptRefused(f"'{path}' is empty; an upload in parts needs at least one byte.")
    plan = fit_plan(parts, file_size, path)
    part_size = plan.part_size
    check = AdoptCheck(upload, path, file_size, part_size, plan.part_count, checksum, parts,
                       taper=plan.taper)
    beyond = [p for p in parts if p.number > plan.part_count]
    for p in beyond:
        check.mismatches.append(Mismatch(p.number, f"Part {p.number} lies beyond the end of "
                                         f"the file ({plan.part_count} parts of "
                                         f"{format_bytes(part_size)})."))
    fitting = [p for p in parts if p.number <= plan.part_count]
    for p in fitting:
        expected = plan.part(p.number).size
        if p.size != expected:
            check.mismatches.append(Mismatch(p.number, f"Part {p.number} holds {p.size:,} "
                                             f"bytes; the file has {expected:,} bytes there."))
    if check.mismatches:
        check.mismatches.sort(key=lambda m: m.number)
        return check
    progress.total = sum(p.size for p in fitting)
    progress.done = 0
    with open(path, "rb") as f:
        for p in fitting:
            verdict = _verify_part(f.fileno(), p, plan.part(p.number).offset, progress)
            if verdict is None:
                check.verified.append(p.number)
            elif verdict == "unverifiable":
                check.unverifiable.append(p.number)
            else:
                check.mismatches.append(Mismatch(p.number, verdict))
    return check


def adoption_record(check: AdoptCheck, endpoint: Endpoint) -> TransferRecord:
    """The journal row that makes the engine continue the upload: its
    reconcile step keeps the server's parts whose MD5 matches the file and
    sends the rest, then completes and verifies."""
    if not check.ok:
        raise AdoptRefused(check.summary())
    ident = identity(check.path)
    if ident.size != check.file_size:
        raise AdoptRefused(f"'{check.path}' changed size during the verification.")
    up = check.upload
    return TransferRecord(
        source=os.path.abspath(check.path), bucket=up.bucket, key=up.key, endpoint=endpoint,
        size=ident.size, mtime_ns=ident.mtime_ns, sample=ident.sample,
        part_size=check.part_size, multipart=True, taper=check.taper, checksum=check.checksum,
        storage_class=up.storage_class if up.storage_class != "STANDARD" else None,
        upload_id=up.upload_id, state=PAUSED)


# -- lifecycle: abort incomplete uploads after N days ----------------------------------


@dataclass
class LifecycleChange:
    bucket: str
    days: int
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    applied: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


def read_lifecycle(client: Any, bucket: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The bucket's lifecycle rules and the other top-level settings that a
    PUT must carry back; no configuration means no rules."""
    try:
        resp = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            return [], {}
        raise _fail(exc, bucket) from exc
    extra = {k: resp[k] for k in ("TransitionDefaultMinimumObjectSize",) if resp.get(k)}
    return list(resp.get("Rules", [])), extra


def rule_scope(rule: dict[str, Any]) -> str | None:
    """The prefix a rule applies to, or None when it also filters by tag or
    size (an abort rule cannot have those, so it is not ours to update)."""
    if "Filter" not in rule:
        return str(rule.get("Prefix", ""))  # the legacy top-level prefix
    f = rule["Filter"] or {}
    if set(f) - {"Prefix"}:
        return None
    return str(f.get("Prefix", ""))


def merge_abort_rule(rules: list[dict[str, Any]], days: int,
                     prefix: str = "") -> list[dict[str, Any]]:
    """The rules with incomplete uploads under `prefix` aborted after `days`:
    every other rule is kept; an existing abort rule of the same scope is
    updated instead of adding a second one. A disabled rule is only enabled
    when aborting is all it does (enabling it must not switch on, say, an
    expiration someone turned off)."""
    if days < 1:
        raise InventoryError("The number of days must be at least 1.")
    after = copy.deepcopy(rules)
    for rule in after:
        if "AbortIncompleteMultipartUpload" not in rule or rule_scope(rule) != prefix:
            continue
        others = set(rule) - {"ID", "Filter", "Prefix", "Status",
                              "AbortIncompleteMultipartUpload"}
        if rule.get("Status") == "Enabled" or not others:
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
            rule["Status"] = "Enabled"
            return after
    ids = {r.get("ID") for r in after}
    rule_id, n = ABORT_RULE_ID, 2
    while rule_id in ids:
        rule_id, n = f"{ABORT_RULE_ID}-{n}", n + 1
    after.append({"ID": rule_id, "Status": "Enabled", "Filter": {"Prefix": prefix},
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": int(days)}})
    return after


def set_abort_incomplete(client: Any, bucket: str, days: int, prefix: str = "",
                         dry_run: bool = False) -> LifecycleChange:
    """Read, merge and (unless dry_run or nothing changes) write back the
    bucket's one lifecycle configuration. Running it twice changes nothing."""
    before, extra = read_lifecycle(client, bucket)
    change = LifecycleChange(bucket, days, before, merge_abort_rule(before, days, prefix))
    if change.changed and not dry_run:
        try:
            client.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": change.after}, **extra)
        except ClientError as exc:
            raise _fail(exc, bucket) from exc
        change.applied = True
    return change


def describe_rule(rule: dict[str, Any]) -> str:
    """One line per rule for the before/after view."""
    scope = rule_scope(rule)
    where = "whole bucket" if scope == "" else f"prefix '{scope}'" if scope is not None \
        else "filtered"
    actions = []
    if "Expiration" in rule:
        exp = rule["Expiration"]
        if "Days" in exp:
            actions.append(f"expire objects after {exp['Days']} days")
        elif "Date" in exp:
            actions.append(f"expire objects on {exp['Date']}")
        elif exp.get("ExpiredObjectDeleteMarker"):
            actions.append("remove expired delete markers")
    if "Transitions" in rule or "Transition" in rule:
        actions.append("transition objects")
    if "NoncurrentVersionExpiration" in rule:
        actions.append("expire noncurrent versions")
    if "NoncurrentVersionTransitions" in rule:
        actions.append("transition noncurrent versions")
    if "AbortIncompleteMultipartUpload" in rule:
        d = rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
        actions.append(f"abort incomplete uploads after {d} days")
    status = str(rule.get("Status", "")).lower()
    return f"{rule.get('ID') or '(no id)'} [{status}, {where}]: " + (
        "; ".join(actions) or "no action")
