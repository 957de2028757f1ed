"""The S3 calls of one upload, Qt-free: create, part, complete, verify, abort.

The engine decides when to call these; this module knows what S3 expects and
how it misbehaves (200 with an <Error> body on Complete, NoSuchUpload on a
retried Complete, parts landing after an abort).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import MpuguiError, error_code, unsupported
from mpugui.core.journal.store import PartRecord, TransferRecord
from mpugui.core.s3.checksums import Algorithm, clean_etag, md5_hex
from mpugui.core.s3.encryption import BUCKETS
from mpugui.core.transfer.verify import (
    Verdict,
    VerificationFailed,
    check_md5_etag,
    file_md5,
    verify_object,
)

__all__ = ["AbortUnsupported", "Verdict", "VerificationFailed"]

log = logging.getLogger("mpugui.s3")


def _object_args(rec: TransferRecord, algo: Algorithm) -> dict[str, Any]:
    args: dict[str, Any] = {"Bucket": rec.bucket, "Key": rec.key}
    if rec.storage_class:
        args["StorageClass"] = rec.storage_class
    if rec.content_type:
        args["ContentType"] = rec.content_type
    if algo.s3_name:
        args["ChecksumAlgorithm"] = algo.s3_name
    return args


def create_upload(client: Any, rec: TransferRecord, algo: Algorithm) -> tuple[str, int]:
    """CreateMultipartUpload; returns (upload id, botocore's retry count). A
    retried Create may have left an upload whose answer was lost."""
    resp = client.create_multipart_upload(**_object_args(rec, algo))
    return str(resp["UploadId"]), int(resp.get("ResponseMetadata", {}).get("RetryAttempts", 0))


def upload_part(client: Any, rec: TransferRecord, number: int, body: Any,
                checksum: str | None, algo: Algorithm) -> tuple[str, int]:
    """Send one part; returns (ETag, botocore's retry count)."""
    args: dict[str, Any] = {"Bucket": rec.bucket, "Key": rec.key, "UploadId": rec.upload_id,
                            "PartNumber": number, "Body": body, "ContentLength": len(body)}
    if algo.part_param and checksum:
        args[algo.part_param] = checksum
    resp = client.upload_part(**args)
    retries = int(resp.get("ResponseMetadata", {}).get("RetryAttempts", 0))
    if algo.name == "md5":
        _check_md5(client, rec, resp, checksum, f"Part {number} of {rec.uri} was")
    return str(resp["ETag"]), retries


def put_object(client: Any, rec: TransferRecord, body: Any, checksum: str | None,
               algo: Algorithm) -> tuple[str, int]:
    """One PutObject; returns (ETag, botocore's retry count), as upload_part does,
    so retries of small files are reported too."""
    args = _object_args(rec, algo)
    args.pop("ChecksumAlgorithm", None)
    args.update(Body=body, ContentLength=len(body))
    if algo.part_param and checksum:
        args[algo.part_param] = checksum
    if rec.no_overwrite:
        args["IfNoneMatch"] = "*"
    resp = client.put_object(**args)
    if algo.name == "md5":
        _check_md5(client, rec, resp, checksum, f"{rec.uri} was")
    return str(resp["ETag"]), int(resp.get("ResponseMetadata", {}).get("RetryAttempts", 0))


def _check_md5(client: Any, rec: TransferRecord, resp: dict[str, Any], content_md5: str | None,
               what: str) -> None:
    """`--checksum md5`: the ETag must be the MD5 sent, unless ETags are not
    MD5s here (SSE-KMS/SSE-C): then the server checked Content-MD5 itself."""
    try:
        check_md5_etag(str(resp["ETag"]), content_md5, resp.get("ServerSideEncryption"),
                       lambda: BUCKETS.hides_md5(client, rec.bucket))
    except MpuguiError as exc:
        raise MpuguiError(f"{what} {exc}") from None


def list_parts(client: Any, bucket: str, key: str, upload_id: str,
               max_parts: int = 1000) -> list[dict[str, Any]]:
    """Every part of an upload, following part-number-marker pages (max_parts
    a page; small values let tests exercise the paging)."""
    parts: list[dict[str, Any]] = []
    marker = 0
    while True:
        resp = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id,
                                 PartNumberMarker=marker, MaxParts=max_parts)
        page = resp.get("Parts", [])
        parts.extend(page)
        if not resp.get("IsTruncated") or not page:
            return parts
        marker = int(resp.get("NextPartNumberMarker") or page[-1]["PartNumber"])


def complete(client: Any, rec: TransferRecord, parts: list[PartRecord],
             algo: Algorithm) -> str:
    """CompleteMultipartUpload; returns the object's ETag.

    botocore retries a 200-with-<Error> answer. If the first attempt did
    complete and only its answer was lost, the retry meets NoSuchUpload: then
    HEAD tells whether the object is ours (is_ours).
    """
    entries = []
    for p in parts:
        entry: dict[str, Any] = {"PartNumber": p.number, "ETag": p.etag}
        if algo.s3_name and p.checksum:
            entry[f"Checksum{algo.s3_name}"] = p.checksum
        entries.append(entry)
    args: dict[str, Any] = {"Bucket": rec.bucket, "Key": rec.key, "UploadId": rec.upload_id,
                            "MultipartUpload": {"Parts": entries}}
    if rec.no_overwrite:
        args["IfNoneMatch"] = "*"
    try:
        resp = client.complete_multipart_upload(**args)
        return str(resp["ETag"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchUpload":
            raise
        if is_ours(client, rec, parts, algo) is None:
            raise
        log.info("Complete of %s answered NoSuchUpload but the object is ours", rec.uri)
        head = head_object(client, rec.bucket, rec.key)
        return str(head["ETag"]) if head else ""


def is_ours(client: Any, rec: TransferRecord, parts: list[PartRecord],
            algo: Algorithm) -> Verdict | None:
    """Whether the object at the key is exactly our parts (after a lost
    answer or a crash): the verdict when its content, not just its size, was
    shown to be ours; None otherwise."""
    try:
        verdict = verify(client, rec, parts, algo, "")
    except VerificationFailed:
        return None
    return verdict if verdict.proves_content else None


def head_object(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def verify(client: Any, rec: TransferRecord, parts: list[PartRecord], algo: Algorithm,
           etag: str) -> Verdict:
    """Check the stored multipart object against our parts by what this
    server guarantees (core/transfer/verify.py); raises VerificationFailed."""
    head = head_object(client, rec.bucket, rec.key)
    if head is not None and not head.get("ETag") and etag:
        head = {**head, "ETag": etag}  # a HEAD without ETag: Complete's answer says it
    return verify_object(
        rec, parts, algo, head,
        local_md5=lambda: file_md5(rec.source, rec.size),
        bucket_hides_md5=lambda: BUCKETS.hides_md5(client, rec.bucket))


class AbortUnsupported(MpuguiError):
    """The server lacks AbortMultipartUpload: the upload's parts stay there."""


def abort_until_empty(client: Any, bucket: str, key: str, upload_id: str,
                      rounds: int = 5, pause: float = 0.5) -> None:
    """Abort, then make sure no part survives: a part in flight during the
    abort can still land, so abort again until ListParts says NoSuchUpload."""
    for _ in range(rounds):
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if unsupported(exc):
                raise AbortUnsupported(
                    f"The server can't abort multipart uploads, so it keeps the parts "
                    f"already sent to s3://{bucket}/{key} (upload {upload_id}). Remove them "
                    f"with the store's own tools (s3rver: {bucket}/._S3rver_uploads/{upload_id} "
                    "in its data directory), or with a lifecycle rule for incomplete uploads "
                    "where the store has one.") from exc
            if error_code(exc) != "NoSuchUpload":
                raise
        try:
            remaining = list_parts(client, bucket, key, upload_id)
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload":
                return
            if unsupported(exc):  # aborted; nothing can tell whether a late part landed
                log.info("Aborted %s; the server can't list parts to confirm", upload_id)
                return
            raise
        log.info("%d part(s) of %s landed after the abort; aborting again",
                 len(remaining), upload_id)
        time.sleep(pause)
    raise MpuguiError(f"Upload {upload_id} of s3://{bucket}/{key} still has parts after "
                      f"{rounds} aborts; try cancelling again.")


def part_matches(etag: str, data: memoryview | bytes) -> bool:
    """Whether a part on the server holds exactly these local bytes (by MD5)."""
    return clean_etag(etag) == md5_hex(data)
