"""Bringing a transfer back after a pause, a failure or a crash: what the
server holds for it, checked against the journal and the local file.

Qt-free helpers for the engine's prepare step; they read and write the
journal but never touch the engine's live state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import MpuguiError, error_code, unsupported
from mpugui.core.journal.store import Journal, PartRecord, TransferRecord
from mpugui.core.s3.checksums import clean_etag, is_md5_etag
from mpugui.core.transfer import multipart as s3
from mpugui.core.transfer.body import PartBuffer, read_range
from mpugui.core.transfer.progress import Transfer

log = logging.getLogger("mpugui.engine")


# Said when a resume cannot ask the server which parts it has (s3rver: 405).
CANT_LIST_PARTS = "the server can't list parts; trusting the local record"


class UploadGone(MpuguiError):
    """The journaled upload id is no longer on the server."""


def stray_uploads(journal: Journal, rec: TransferRecord, client: Any) -> list[str]:
    """Uploads a Create of ours made but whose id never reached the journal
    (a crash, or a lost answer that botocore retried): for this key, known to
    no journaled transfer, and without parts (ours never have any: parts leave
    only once the id is journaled)."""
    known = {r.upload_id for r in journal.transfers() if r.upload_id}
    found: list[str] = []
    try:
        pages = client.get_paginator("list_multipart_uploads").paginate(
            Bucket=rec.bucket, Prefix=rec.key)
        for page in pages:
            for upload in page.get("Uploads", []):
                uid = upload["UploadId"]
                if upload["Key"] != rec.key or uid in known:
                    continue
                try:
                    if s3.list_parts(client, rec.bucket, rec.key, uid):
                        continue
                except ClientError:
                    continue
                found.append(str(uid))
    except ClientError:
        # Best effort: an account may create uploads without the right to list
        # them; the upload goes on (the uploads browser finds strays).
        log.info("Could not look for stray uploads of %s", rec.uri, exc_info=True)
    return found


def completed_before(journal: Journal, t: Transfer, client: Any) -> tuple[str, s3.Verdict] | None:
    """After NoSuchUpload on resume: was the upload completed (by us, just
    before a crash) into exactly our journaled parts? Returns (ETag,
    verdict) when it was."""
    rec = t.rec
    parts = journal.parts(t.id)
    if sorted(parts) != [p.number for p in t.parts]:
        return None
    records = [parts[n] for n in sorted(parts)]
    verdict = s3.is_ours(client, rec, records, t.algo)
    head = s3.head_object(client, rec.bucket, rec.key) if verdict else None
    if verdict is None or head is None:
        return None
    log.info("%s was completed before the restart (%s)", rec.uri, verdict)
    return str(head["ETag"]), verdict


def parts_to_keep(journal: Journal, t: Transfer, client: Any,
                  say: Callable[[str], None] | None = None) -> dict[int, PartRecord]:
    """The parts that need not be sent again, with the journal brought in line:
    parts the server has with the journaled ETag are kept; parts it has that
    the journal missed (landed just before a crash) are kept when their MD5
    matches the local bytes; the journal forgets everything else. A server
    without ListParts gets the journal's parts, and `say` tells the user."""
    rec = t.rec
    assert rec.upload_id is not None and t.fd is not None
    journaled = journal.parts(t.id)
    try:
        server = {p["PartNumber"]: p for p in
                  s3.list_parts(client, rec.bucket, rec.key, rec.upload_id)}
    except ClientError as exc:
        if error_code(exc) == "NoSuchUpload":
            raise UploadGone(
                f"The upload of {rec.uri} no longer exists on the server (aborted or "
                "expired). Start it over to upload the file again.") from exc
        if not unsupported(exc):
            raise
        log.warning("%s: %s", rec.uri, CANT_LIST_PARTS)
        if say is not None:
            say(CANT_LIST_PARTS)
        return _journaled_parts(t, journaled)
    buffer = PartBuffer()
    kept: dict[int, PartRecord] = {}
    for part in t.parts:
        on_server, in_journal = server.get(part.number), journaled.get(part.number)
        if on_server and int(on_server["Size"]) == part.size:
            if in_journal and clean_etag(in_journal.etag) == clean_etag(on_server["ETag"]):
                kept[part.number] = in_journal
            elif is_md5_etag(on_server["ETag"]):
                data = read_range(t.fd, part.offset, part.size, buffer, rec.source)
                if s3.part_matches(on_server["ETag"], data):
                    kept[part.number] = PartRecord(part.number, part.size, on_server["ETag"],
                                                   t.algo.value(data))
                    journal.record_part(t.id, kept[part.number])
        if part.number not in kept and in_journal:
            journal.forget_parts(t.id, [part.number])
    return kept


def _journaled_parts(t: Transfer, journaled: dict[int, PartRecord]) -> dict[int, PartRecord]:
    """Without ListParts: the parts the journal recorded (each was answered
    with an ETag by the server, and Complete names them), where they still
    fit the plan; a part the journal missed is sent again."""
    sizes = {p.number: p.size for p in t.parts}
    return {n: p for n, p in journaled.items() if sizes.get(n) == p.size}
