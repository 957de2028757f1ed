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

from mpugui.core.errors import MpuguiError, error_code
from mpugui.core.journal.store import PartRecord, TransferRecord
from mpugui.core.transfer.checksums import Algorithm, clean_etag, md5_hex, multipart_etag

log = logging.getLogger("mpugui.s3")


class VerificationFailed(MpuguiError):
    pass


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
    return str(resp["ETag"]), int(resp.get("ResponseMetadata", {}).get("RetryAttempts", 0))


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
    HEAD tells whether the object is ours (same multipart ETag and size).
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
        expected = multipart_etag([p.etag for p in parts])
        head = head_object(client, rec.bucket, rec.key)
        if head and expected and clean_etag(head["ETag"]) == expected \
                and head["ContentLength"] == rec.size:
            log.info("Complete of %s answered NoSuchUpload but the object is ours", rec.uri)
            return str(head["ETag"])
        raise


def head_object(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def verify(client: Any, rec: TransferRecord, parts: list[PartRecord], algo: Algorithm,
           etag: str, local_md5: str | None = None) -> str:
    """Check the stored object against local values; returns what was checked.

    Always: size. Multipart: the ETag must be the one S3 derives from the
    ETags of exactly our parts (so the object is our parts, in order), and a
    composite checksum, when the server reports one, must match ours.
    Single PutObject: the ETag must be the MD5 of the local bytes when known.
    """
    head = head_object(client, rec.bucket, rec.key)
    if head is None:
        raise VerificationFailed(f"{rec.uri} is missing right after it was completed.")
    checked = []
    if int(head["ContentLength"]) != rec.size:
        raise VerificationFailed(
            f"{rec.uri} holds {head['ContentLength']:,} bytes; the file has {rec.size:,}.")
    checked.append("size")
    stored = clean_etag(head.get("ETag", etag))
    if rec.multipart:
        expected = multipart_etag([p.etag for p in parts])
        if expected is not None:
            if stored != expected:
                raise VerificationFailed(
                    f"{rec.uri} has ETag {stored}; the uploaded parts give {expected}.")
            checked.append("multipart ETag")
        ours = algo.composite([p.checksum or "" for p in parts]) if algo.s3_name else None
        theirs = head.get(f"Checksum{algo.s3_name}") if algo.s3_name else None
        if ours and theirs and "-" in theirs:
            if theirs != ours:
                raise VerificationFailed(
                    f"{rec.uri} has {algo.name} {theirs}; the parts give {ours}.")
            checked.append(f"composite {algo.name}")
    elif local_md5 is not None and len(stored) == 32:
        if stored != local_md5:
            raise VerificationFailed(f"{rec.uri} has ETag {stored}; the file's MD5 is {local_md5}.")
        checked.append("MD5")
    return " + ".join(checked)


def abort_until_empty(client: Any, bucket: str, key: str, upload_id: str,
                      rounds: int = 5, pause: float = 0.5) -> None:
    """Abort, then make sure no part survives: a part in flight during the
    abort can still land, so abort again until ListParts says NoSuchUpload."""
    for _ in range(rounds):
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise
        try:
            remaining = list_parts(client, bucket, key, upload_id)
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload":
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
