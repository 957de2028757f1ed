"""mpugui.core.inventory against moto's HTTP server (and botocore's Stubber
where moto cannot behave like S3: it never truncates ListMultipartUploads,
and it cannot deny access)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.stub import Stubber

from mpugui.core.inventory.aborts import abort, abort_many
from mpugui.core.inventory.adopt import AdoptRefused, Progress, adoption_record, check_adoption
from mpugui.core.inventory.errors import InventoryError, UploadGone
from mpugui.core.inventory.lifecycle import describe_rule, merge_abort_rule, set_abort_incomplete
from mpugui.core.inventory.listing import (
    PartInfo,
    Upload,
    Usage,
    find_upload,
    list_upload_parts,
    list_uploads,
    older_than,
    parse_time,
    upload_pages,
    usage,
)
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.units import MiB
from tests.conftest import make_file

MOTO_INITIATED = datetime(2010, 11, 10, 20, 48, 33, tzinfo=timezone.utc)  # moto's fixed date


def start_upload(s3, bucket: str, key: str, parts: list[bytes], **create_args) -> str:
    """An upload made by 'another client': plain boto3, not this app."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)["UploadId"]
    for number, body in enumerate(parts, start=1):
        extra = {"ChecksumAlgorithm": create_args["ChecksumAlgorithm"]} \
            if "ChecksumAlgorithm" in create_args else {}
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                       Body=body, **extra)
    return upload_id


def remaining_ids(s3, bucket: str) -> set[str]:
    return {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}


# -- listing -----------------------------------------------------------------------


def test_uploads_made_by_another_client_are_listed_with_parts_and_bytes(s3, bucket):
    a = start_upload(s3, bucket, "videos/a.mp4", [b"a" * 1000, b"b" * 2000, b"c" * 500])
    b = start_upload(s3, bucket, "videos/b.mp4", [])
    c = start_upload(s3, bucket, "other/c.bin", [b"x" * 123], StorageClass="STANDARD_IA")

    uploads = list_uploads(s3, bucket)
    assert {u.upload_id for u in uploads} == {a, b, c}
    by_id = {u.upload_id: u for u in uploads}
    assert by_id[c].storage_class  # moto lists every upload as STANDARD
    assert by_id[a].key == "videos/a.mp4"
    assert by_id[a].initiated.tzinfo is not None

    use = {u.upload_id: usage(list_upload_parts(s3, bucket, u.key, u.upload_id))
           for u in uploads}
    assert use[a] == Usage(3, 3500)
    assert use[b] == Usage(0, 0)
    assert use[c] == Usage(1, 123)

    under = list_uploads(s3, bucket, "videos/")
    assert {u.upload_id for u in under} == {a, b}


def test_parts_are_paginated_against_moto(s3, bucket):
    bodies = [bytes([n]) * (100 + n) for n in range(1, 8)]  # 7 parts, distinct sizes
    upload_id = start_upload(s3, bucket, "many.bin", bodies)
    calls = []
    s3.meta.events.register("before-call.s3.ListParts", lambda **kw: calls.append(kw["params"]))
    try:
        parts = list_upload_parts(s3, bucket, "many.bin", upload_id, max_parts=3)
    finally:
        s3.meta.events.unregister("before-call.s3.ListParts")
    assert [p.number for p in parts] == list(range(1, 8))
    assert [p.size for p in parts] == [len(b) for b in bodies]
    assert len(calls) == 3  # 3 + 3 + 1
    assert all(p.etag and p.last_modified for p in parts)


def _page(uploads: list[tuple[str, str]], truncated: bool, next_key: str = "",
          next_id: str = "") -> dict:
    resp = {"Bucket": "bkt", "IsTruncated": truncated, "Uploads": [
        {"Key": k, "UploadId": i, "Initiated": MOTO_INITIATED, "StorageClass": "STANDARD",
         "Initiator": {"ID": "arn:x", "DisplayName": "alice"}, "Owner": {"ID": "o1"}}
        for k, i in uploads]}
    if truncated:
        resp.update(NextKeyMarker=next_key, NextUploadIdMarker=next_id)
    return resp


def test_upload_pages_follow_key_and_upload_id_markers(s3):
    # moto never truncates ListMultipartUploads, so S3's paging is played by
    # botocore's Stubber: three pages, the second break inside one key.
    stub = Stubber(s3)
    stub.add_response("list_multipart_uploads",
                      _page([("a", "1"), ("b", "1")], True, "b", "1"),
                      {"Bucket": "bkt", "MaxUploads": 2, "Prefix": "p"})
    stub.add_response("list_multipart_uploads",
                      _page([("b", "2"), ("c", "1")], True, "c", "1"),
                      {"Bucket": "bkt", "MaxUploads": 2, "Prefix": "p",
                       "KeyMarker": "b", "UploadIdMarker": "1"})
    stub.add_response("list_multipart_uploads", _page([("d", "1")], False),
                      {"Bucket": "bkt", "MaxUploads": 2, "Prefix": "p",
                       "KeyMarker": "c", "UploadIdMarker": "1"})
    with stub:
        pages = list(upload_pages(s3, "bkt", "p", page_size=2))
        stub.assert_no_pending_responses()
    assert [[(u.key, u.upload_id) for u in page] for page in pages] == [
        [("a", "1"), ("b", "1")], [("b", "2"), ("c", "1")], [("d", "1")]]
    assert pages[0][0].initiator == "alice" and pages[0][0].owner == "o1"


def test_upload_pages_stop_when_cancelled_and_refuse_a_stuck_marker(s3):
    stub = Stubber(s3)
    stub.add_response("list_multipart_uploads", _page([("a", "1")], True, "a", "1"))
    cancel = threading.Event()
    with stub:
        pages = upload_pages(s3, "bkt", cancel=cancel)
        assert [u.key for u in next(pages)] == ["a"]
        cancel.set()
        assert list(pages) == []  # no second request was made

    stub = Stubber(s3)
    stub.add_response("list_multipart_uploads", _page([("a", "1")], True, "a", "1"))
    stub.add_response("list_multipart_uploads", _page([("a", "1")], True, "a", "1"))
    with stub, pytest.raises(InventoryError, match="did not advance"):
        list_uploads(s3, "bkt")


@pytest.mark.parametrize(("method", "operation", "permission"), [
    ("list_multipart_uploads", "ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    ("list_parts", "ListParts", "s3:ListMultipartUploadParts"),
    ("abort_multipart_upload", "AbortMultipartUpload", "s3:AbortMultipartUpload"),
    ("get_bucket_lifecycle_configuration", "GetBucketLifecycleConfiguration",
     "s3:GetLifecycleConfiguration"),
    ("put_bucket_lifecycle_configuration", "PutBucketLifecycleConfiguration",
     "s3:PutLifecycleConfiguration"),
])
def test_access_denied_names_the_missing_permission(s3, method, operation, permission):
    # moto does not enforce IAM; the Stubber answers 403 AccessDenied instead.
    stub = Stubber(s3)
    stub.add_client_error(method, "AccessDenied", "Access Denied", 403)
    up = Upload("bkt", "k", "u1", MOTO_INITIATED)
    with stub:
        if method == "list_multipart_uploads":
            with pytest.raises(InventoryError) as err:
                list_uploads(s3, "bkt")
            sentence = str(err.value)
        elif method == "list_parts":
            with pytest.raises(InventoryError) as err:
                list_upload_parts(s3, "bkt", "k", "u1")
            sentence = str(err.value)
        elif method == "abort_multipart_upload":
            result = abort(s3, up)
            assert not result.ok
            sentence = result.error or ""
        elif method == "get_bucket_lifecycle_configuration":
            with pytest.raises(InventoryError) as err:
                set_abort_incomplete(s3, "bkt", 7)
            sentence = str(err.value)
        else:
            stub2 = Stubber(s3)
            stub.deactivate()
            stub2.add_response("get_bucket_lifecycle_configuration", {"Rules": []})
            stub2.add_client_error(method, "AccessDenied", "Access Denied", 403)
            with stub2, pytest.raises(InventoryError) as err:
                set_abort_incomplete(s3, "bkt", 7)
            sentence = str(err.value)
    assert permission in sentence
    assert sentence.startswith("Access denied") and "'bkt'" in sentence
    assert operation  # the operation botocore names is what picks the permission


# -- age, cost, abort, cleanup ------------------------------------------------------------


def test_older_than_uses_the_given_now():
    now = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)
    ups = [Upload("b", f"k{d}", str(d), now - timedelta(days=d)) for d in (1, 3, 7, 30)]
    assert [u.key for u in older_than(ups, 7 * 86400, now)] == ["k7", "k30"]
    assert [u.key for u in older_than(ups, 36 * 3600, now)] == ["k3", "k7", "k30"]
    assert parse_time("2024-05-10T12:00:00Z") == now
    assert parse_time("2024-05-10 14:00+02:00") == now
    with pytest.raises(InventoryError):
        parse_time("yesterday")


def test_cleanup_with_injected_now_aborts_exactly_the_old_ones(s3, bucket):
    old = [start_upload(s3, bucket, f"tmp/{n}.bin", [b"z" * 200]) for n in range(3)]
    keep = start_upload(s3, bucket, "keep/x.bin", [b"k" * 10])
    # moto dates every upload MOTO_INITIATED, so the clock is what moves.
    just_before = MOTO_INITIATED + timedelta(hours=35, minutes=59)
    later = MOTO_INITIATED + timedelta(days=2)
    uploads = list_uploads(s3, bucket, "tmp/")
    assert older_than(uploads, 36 * 3600, just_before) == []
    chosen = older_than(uploads, 36 * 3600, later)
    assert {u.upload_id for u in chosen} == set(old)

    seen = []
    results = abort_many(s3, chosen, on_result=seen.append)
    assert [r.ok for r in results] == [True] * 3 and seen == results
    assert remaining_ids(s3, bucket) == {keep}
    for u in chosen:
        with pytest.raises(UploadGone, match="no longer exists"):
            list_upload_parts(s3, bucket, u.key, u.upload_id)


def test_abort_of_a_gone_upload_is_not_an_error(s3, bucket):
    upload_id = start_upload(s3, bucket, "gone.bin", [b"1"])
    s3.abort_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=upload_id)
    result = abort(s3, Upload(bucket, "gone.bin", upload_id, MOTO_INITIATED))
    assert result.ok and result.error is None


# -- adopt ---------------------------------------------------------------------------------


def _adoptable(s3, bucket: str, tmp_path: Path, **create_args) -> tuple[Path, str, Upload]:
    path = make_file(tmp_path / "video.bin", 12 * MiB + 12345, seed=7)
    data = path.read_bytes()
    upload_id = start_upload(s3, bucket, "video.bin",
                             [data[:5 * MiB], data[5 * MiB:10 * MiB]], **create_args)
    return path, upload_id, find_upload(s3, bucket, "video.bin", upload_id)


def test_adopt_check_verifies_uploaded_parts_and_lists_the_missing_one(s3, bucket, tmp_path):
    path, upload_id, upload = _adoptable(s3, bucket, tmp_path)
    progress = Progress()
    check = check_adoption(s3, upload, str(path), progress=progress)
    assert check.ok, check.mismatches
    assert (check.part_size, check.part_count) == (5 * MiB, 3)
    assert check.verified == [1, 2] and check.missing == [3]
    assert check.checksum == "md5"  # no upload-level algorithm: Content-MD5 per part
    assert progress.done == progress.total == 10 * MiB
    rec = adoption_record(check, Endpoint(endpoint_url="http://x"))
    assert (rec.upload_id, rec.part_size, rec.multipart, rec.size) == (
        upload_id, 5 * MiB, True, path.stat().st_size)


def test_adopt_check_uses_the_uploads_checksum_algorithm(s3, bucket, tmp_path):
    _, _, upload = _adoptable(s3, bucket, tmp_path, ChecksumAlgorithm="CRC32")
    assert upload.checksum_algorithm == "CRC32"
    check = check_adoption(s3, upload, str(tmp_path / "video.bin"))
    assert check.ok and check.checksum == "crc32"


def test_a_tampered_file_is_refused_part_by_part(s3, bucket, tmp_path):
    path, _, upload = _adoptable(s3, bucket, tmp_path)
    with open(path, "r+b") as f:  # one byte changed inside part 2
        f.seek(7 * MiB)
        byte = f.read(1)
        f.seek(7 * MiB)
        f.write(bytes([byte[0] ^ 0xFF]))
    check = check_adoption(s3, upload, str(path))
    assert not check.ok
    assert [m.number for m in check.mismatches] == [2]
    assert "Part 2" in check.mismatches[0].reason and "MD5" in check.mismatches[0].reason
    assert check.verified == [1]
    with pytest.raises(AdoptRefused, match="do not match"):
        adoption_record(check, Endpoint())


def test_a_part_checksum_is_used_when_the_etag_is_no_md5(tmp_path):
    path = make_file(tmp_path / "f.bin", 6 * MiB, seed=3)
    data = path.read_bytes()
    import base64
    import zlib
    good = base64.b64encode(zlib.crc32(data[:5 * MiB]).to_bytes(4, "big")).decode()
    up = Upload("b", "f.bin", "u", MOTO_INITIATED, checksum_algorithm="CRC32")
    kms_etag = '"a1b2c3-kms-not-an-md5"'
    ok = check_adoption(None, up, str(path), parts=[
        PartInfo(1, 5 * MiB, kms_etag, None, "CRC32", good)])
    assert ok.ok and ok.verified == [1]
    bad = check_adoption(None, up, str(path), parts=[
        PartInfo(1, 5 * MiB, kms_etag, None, "CRC32", "AAAAAA==")])
    assert [m.number for m in bad.mismatches] == [1] and "CRC32" in bad.mismatches[0].reason
    blind = check_adoption(None, up, str(path), parts=[PartInfo(1, 5 * MiB, kms_etag)])
    assert blind.ok and blind.unverifiable == [1] and blind.missing == [1, 2]


@pytest.mark.parametrize(("parts", "size", "message"), [
    ([(1, 5 * MiB), (2, 6 * MiB), (3, 1)], 20 * MiB, "different sizes"),
    # The wrong file: an upload of ours (16 MiB parts tapering to 5 MiB) and a
    # file of another size is said to not fit, with the sizes (issue 14).
    ([(1, 16 * MiB), (2, 16 * MiB), (3, 8 * MiB), (4, 5 * MiB)], 2048 * MiB,
     r"\(2.0 GiB\) does not fit this upload"),
    ([(1, 1 * MiB), (2, 1 * MiB)], 3 * MiB, "only as the last part"),
    ([(1, 2 * MiB)], 2 * MiB, "single part"),
    ([(1, 5 * MiB), (2, 6 * MiB)], 20 * MiB, "larger than"),
])
def test_part_sizes_that_cannot_fit_are_refused(tmp_path, parts, size, message):
    path = tmp_path / "f.bin"
    path.write_bytes(b"\0" * size)
    up = Upload("b", "f.bin", "u", MOTO_INITIATED)
    with pytest.raises(AdoptRefused, match=message):
        check_adoption(None, up, str(path),
                           parts=[PartInfo(n, s, '"00"') for n, s in parts])


def test_an_upload_of_ours_with_smaller_final_parts_is_adopted_in_its_own_cut(tmp_path):
    """Our plans end in smaller parts (core/s3/plan.py); when the journal is
    gone, the uploads browser recognises that cut rather than refusing it."""
    import hashlib

    from mpugui.core.s3.plan import TAPER_V1, make_plan

    size = 600 * MiB + 17
    path = tmp_path / "ours.bin"
    with open(path, "wb") as f:
        f.truncate(size)  # zeros, read sparse
    plan = make_plan(size, taper=TAPER_V1)
    sizes = {p.size for p in plan.parts()}
    assert 16 * MiB in sizes and 5 * MiB in sizes  # a real taper, not one size
    sent = [plan.part(1), plan.part(plan.part_count - 2)]  # one full part, one tail part
    listed = [PartInfo(p.number, p.size, f'"{hashlib.md5(bytes(p.size)).hexdigest()}"')
              for p in sent]
    up = Upload("b", "ours.bin", "u", MOTO_INITIATED)
    check = check_adoption(None, up, str(path), parts=listed)
    assert check.ok and check.taper == TAPER_V1, check.mismatches
    assert check.part_count == plan.part_count and check.verified == [p.number for p in sent]
    assert "up to 16.0 MiB" in check.summary()
    rec = adoption_record(check, Endpoint())
    assert rec.plan().parts() == plan.parts()


def test_parts_beyond_a_shorter_file_are_mismatches(tmp_path):
    path = tmp_path / "short.bin"
    path.write_bytes(b"\0" * (6 * MiB))
    up = Upload("b", "f.bin", "u", MOTO_INITIATED)
    check = check_adoption(None, up, str(path), parts=[
        PartInfo(n, 5 * MiB, '"00"') for n in (1, 2, 3)])
    assert [m.number for m in check.mismatches] == [2, 3]


def test_uploads_with_checksums_the_engine_cannot_send_are_refused(tmp_path):
    path = make_file(tmp_path / "f.bin", 6 * MiB)
    for up in (Upload("b", "k", "u", MOTO_INITIATED, checksum_algorithm="SHA1"),
               Upload("b", "k", "u", MOTO_INITIATED, checksum_algorithm="CRC64NVME",
                          checksum_type="FULL_OBJECT")):
        with pytest.raises(AdoptRefused):
            check_adoption(None, up, str(path), parts=[])


# -- lifecycle -----------------------------------------------------------------------------


def test_lifecycle_merge_keeps_other_rules_and_is_idempotent(s3, bucket):
    expiration = {"ID": "logs-expire", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                  "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": [expiration]})
    first = set_abort_incomplete(s3, bucket, 7)
    assert first.changed and first.applied
    assert first.before == [expiration]
    stored = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert expiration in stored
    aborts = [r for r in stored if "AbortIncompleteMultipartUpload" in r]
    assert len(aborts) == 1
    assert aborts[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}

    second = set_abort_incomplete(s3, bucket, 7)
    assert not second.changed and not second.applied
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == stored

    third = set_abort_incomplete(s3, bucket, 3)  # updates the rule, adds none
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert third.applied and len(rules) == 2 and expiration in rules
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            for r in rules if "AbortIncompleteMultipartUpload" in r] == [3]


def test_lifecycle_without_configuration_starts_empty_and_dry_run_writes_nothing(s3, bucket):
    change = set_abort_incomplete(s3, bucket, 5, dry_run=True)
    assert change.before == [] and change.changed and not change.applied
    assert change.after[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 5}
    with pytest.raises(Exception, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_merge_updates_an_existing_abort_rule_but_never_enables_other_actions():
    combined = {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""},
                "Expiration": {"Days": 90},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 30}}
    after = merge_abort_rule([combined], 7)
    assert len(after) == 1 and after[0]["Expiration"] == {"Days": 90}
    assert after[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert combined["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 30  # not mutated

    disabled = dict(combined, Status="Disabled")
    after = merge_abort_rule([disabled], 7)
    assert after[0] == disabled and len(after) == 2  # a new rule; the disabled one untouched
    assert after[1]["Status"] == "Enabled"

    scoped = {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}
    assert merge_abort_rule([scoped], 7, "tmp/")[0][
        "AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    assert len(merge_abort_rule([scoped], 7)) == 2  # other scope: a bucket-wide rule added
    assert "abort incomplete uploads after 7 days" in describe_rule(
        merge_abort_rule([], 7)[0])
