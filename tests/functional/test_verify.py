"""Verification by what the server guarantees (core/transfer/verify.py), the evidence
journaled for it (schema 4, with older journals migrated), and `--checksum
md5` under SSE-KMS: moto keeps the bucket's default encryption and says
aws:kms on HEAD, and the fault proxy gives the ETags S3 gives under KMS
(not MD5s)."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.journal.store import Journal, PartRecord, TransferRecord
from mpugui.core.s3.checksums import algorithm, multipart_etag
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import DONE, FAILED
from mpugui.core.transfer import verify
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy
from tests.functional.test_faults import wait_final


def _record(tmp_path: Path, data: bytes) -> TransferRecord:
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    return TransferRecord(str(src), "b", "k", Endpoint(), len(data), 0, "", 5 * MiB, True,
                          "crc32c")


def _parts(data: bytes, algo: str = "crc32c") -> list[PartRecord]:
    a = algorithm(algo)
    chunks = [data[i:i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    return [PartRecord(n, len(c), f'"{hashlib.md5(c).hexdigest()}"', a.value(c))
            for n, c in enumerate(chunks, 1)]


DATA = bytes(range(256)) * (45 * 1024)  # 11.25 MiB: three parts


def _check(tmp_path: Path, head: dict, bucket_kms: bool = False,
           size: int | None = None) -> verify.Verdict:
    rec = _record(tmp_path, DATA)
    if size is not None:
        rec.size = size
    return verify.verify_object(
        rec, _parts(DATA), algorithm("crc32c"), {"ContentLength": rec.size, **head},
        local_md5=lambda: verify.file_md5(rec.source, rec.size),
        bucket_hides_md5=lambda: bucket_kms)


def test_aws_multipart_etag_and_composite_checksum_are_evidence(tmp_path: Path) -> None:
    parts = _parts(DATA)
    composite = algorithm("crc32c").composite([p.checksum or "" for p in parts])
    verdict = _check(tmp_path, {"ETag": f'"{multipart_etag([p.etag for p in parts])}"',
                                "ChecksumCRC32C": composite})
    assert verdict.evidence == ("size", "composite-crc32c", "multipart-etag")
    assert str(verdict) == "size + composite CRC32C + multipart ETag"


def test_a_whole_file_md5_etag_is_evidence_as_s3rver_gives_it(tmp_path: Path) -> None:
    verdict = _check(tmp_path, {"ETag": f'"{hashlib.md5(DATA).hexdigest()}"'})
    assert verdict.evidence == ("size", "md5-etag") and verdict.proves_content


def test_wrong_evidence_fails_and_kms_makes_the_etag_unverifiable(tmp_path: Path) -> None:
    other = f'"{hashlib.md5(b"other").hexdigest()}"'
    with pytest.raises(verify.VerificationFailed, match="the file's MD5 is"):
        _check(tmp_path, {"ETag": other})
    with pytest.raises(verify.VerificationFailed, match="the uploaded parts give"):
        _check(tmp_path, {"ETag": '"0123456789abcdef0123456789abcdef-3"'})
    with pytest.raises(verify.VerificationFailed, match="holds"):
        _check(tmp_path, {"ETag": other, "ContentLength": 5})
    with pytest.raises(verify.VerificationFailed, match="crc32c"):
        _check(tmp_path, {"ETag": other, "ChecksumCRC32C": "AAAAAA==-3"})
    # Under KMS (said by HEAD, or by the bucket's default) ETags are not MD5s.
    for head, bucket_kms in (({"ServerSideEncryption": "aws:kms"}, False), ({}, True)):
        for etag in (other, '"0123456789abcdef0123456789abcdef-3"'):
            verdict = _check(tmp_path, {"ETag": etag, **head}, bucket_kms=bucket_kms)
            assert verdict.evidence == ("size", "etag-unverifiable")
            assert str(verdict) == ("size; not verifiable by ETag (the object is encrypted "
                                    "with KMS or a customer key)")


def test_a_plain_etag_of_a_big_file_is_not_hashed_again(tmp_path: Path) -> None:
    verdict = _check(tmp_path, {"ETag": '"0123456789abcdef0123456789abcdef"',
                                "ContentLength": 65 * MiB}, size=65 * MiB)
    assert verdict.evidence == ("size", "etag-unverifiable") and not verdict.proves_content
    assert "larger than 64 MiB" in str(verdict)


def test_a_version_3_journal_gets_evidence_from_its_sentences(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    journal = Journal(path)
    sentences = ["size + composite CRC32C + multipart ETag", "size + MD5 (PutObject md5)",
                 "size (PutObject crc32c)"]
    ids = [journal.add(_record(tmp_path, b"x")) for _ in sentences]
    for tid, text in zip(ids, sentences, strict=True):
        journal.update(tid, state=DONE, verification=text)
    journal.close()
    db = sqlite3.connect(path)  # what version 3 wrote: no evidence column
    db.execute("ALTER TABLE transfers DROP COLUMN evidence")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    migrated = Journal(path)
    assert [migrated.get(i).evidence for i in ids] == [
        "size,composite-crc32c,multipart-etag", "size,md5-etag", "size"]
    assert migrated.get(ids[0]).verification == sentences[0]  # the sentence stays
    migrated.close()
    (version,) = sqlite3.connect(path).execute(
        "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == "4"


# -- --checksum md5 under SSE-KMS ---------------------------------------------------


@pytest.fixture
def kms_proxy(moto_url: str) -> Iterator[FaultProxy]:
    """ETags as S3 answers them under SSE-KMS: not the MD5 of the bytes."""
    with FaultProxy(moto_url) as p:
        p.add(Fault(("UploadPart", "PutObject"), "opaque_etag", times=None))
        yield p


@pytest.mark.parametrize("bucket_kms", [True, False])
def test_md5_checksum_under_kms_relies_on_content_md5(qtbot, kms_proxy, engine_factory, s3,
                                                      bucket, tmp_path, bucket_kms) -> None:
    if bucket_kms:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/mpugui-test"}}]})
    big = make_file(tmp_path / "big.bin", 11 * MiB, seed=1)
    small = make_file(tmp_path / "small.bin", 3000, seed=2)
    engine = engine_factory()
    via = Endpoint(endpoint_url=kms_proxy.url, region="us-east-1")
    ids = [engine.add(UploadRequest(str(f), bucket, f.name, via, checksum="md5"))
           for f in (big, small)]
    snaps = [wait_final(qtbot, engine, tid) for tid in ids]
    if not bucket_kms:  # an MD5-shaped ETag that differs, and nothing says KMS: refused
        assert [s.state for s in snaps] == [FAILED, FAILED]
        assert "different MD5 than was sent" in snaps[0].detail
        return
    assert [s.state for s in snaps] == [DONE, DONE], [s.detail for s in snaps]
    for f in (big, small):
        assert s3.get_object(Bucket=bucket, Key=f.name)["Body"].read() == f.read_bytes()
    for snap in snaps:
        assert snap.verification and "not verifiable by ETag" in snap.verification
    journal_row = engine.journal.get(ids[0])
    assert journal_row.evidence == "size,etag-unverifiable"
    # Content-MD5 went with every part: the server checked those bytes.
    sent = [base64.b64encode(hashlib.md5(big.read_bytes()[i:i + 5 * MiB]).digest()).decode()
            for i in range(0, 11 * MiB, 5 * MiB)]
    assert [p.checksum for p in snaps[0].parts] == sent
