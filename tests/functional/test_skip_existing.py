"""Skip what is already there (issue 11): the destination lookup against a
real moto server (HEAD for a few keys, ListObjectsV2 pages for many, the
fallbacks when listing is denied or the bucket is missing) and is_unchanged
over objects moto stored with PutObject and multipart uploads."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from mpugui.core.errors import MpuguiError
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.plan import TAPER_V1, make_plan
from mpugui.core.sources import Identity, identity
from mpugui.core.transfer import unchanged
from mpugui.core.transfer.existing import (
    HEAD_LIMIT,
    LIST_PAGE,
    RemoteListing,
    RemoteObject,
    common_prefix,
    existing_objects,
)
from mpugui.core.transfer.unchanged import (
    Recorded,
    candidate_cuts,
    is_unchanged,
    skipped_sentence,
)
from mpugui.core.units import MiB
from tests.conftest import make_file

BIG_PREFIX = "big/"
BIG_COUNT = LIST_PAGE + 5  # two ListObjectsV2 pages


def counting_client(moto_url: str) -> tuple[Any, dict[str, int]]:
    """A client against moto that counts the requests it sends, by operation."""
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:
        with lock:
            calls[model.name] = calls.get(model.name, 0) + 1

    client.meta.events.register("before-call.s3", count)
    return client, calls


@pytest.fixture(scope="module")
def big_bucket(moto_url: str) -> str:
    """A bucket holding BIG_COUNT 0-byte objects under big/ and one after it
    (made once for the module, through a thread pool)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=Config(max_pool_connections=16))
    name = f"big-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    keys = [f"{BIG_PREFIX}{i:05d}" for i in range(BIG_COUNT)] + ["other/after"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=b""), keys))
    return name


@pytest.fixture
def client(endpoint: Endpoint) -> Any:
    return ClientFactory().client(endpoint)


def put(s3: Any, bucket: str, key: str, path: Path) -> str:
    return s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())["ETag"]


def put_multipart(s3: Any, bucket: str, key: str, path: Path, sizes: list[int]) -> str:
    data = path.read_bytes()
    assert sum(sizes) == len(data)
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts, offset = [], 0
    for n, size in enumerate(sizes, 1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n,
                              Body=data[offset:offset + size])["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
        offset += size
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": parts})["ETag"]


def rewrite_same_size(path: Path) -> None:
    """Change one byte in the middle, keeping the size and the mtime."""
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(st.st_size // 2)
        byte = f.read(1)
        f.seek(st.st_size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns


def skipped(client: Any, bucket: str, files: dict[str, Path], prefix: str,
            **kw: Any) -> set[str]:
    """The keys whose files is_unchanged would skip."""
    remote = existing_objects(client, bucket, list(files), prefix)
    return {key for key, path in files.items()
            if is_unchanged(str(path), identity(str(path)), remote.get(key), None, **kw)}


# ------------------------------------------------------------------ skipping
def test_skips_exactly_the_unchanged_files(s3, client, bucket, tmp_path: Path) -> None:
    # Enough files that the prefix is listed (more than HEAD_LIMIT).
    files = {f"up/same-{i}.txt": make_file(tmp_path / f"same-{i}.txt", 1000 + i, seed=i)
             for i in range(HEAD_LIMIT)}
    for key, path in files.items():
        put(s3, bucket, key, path)
    grown = make_file(tmp_path / "grown.txt", 500, seed=50)
    put(s3, bucket, "up/grown.txt", grown)
    make_file(grown, 501, seed=50)
    edited = make_file(tmp_path / "edited.txt", 700, seed=60)
    put(s3, bucket, "up/edited.txt", edited)
    rewrite_same_size(edited)
    new = make_file(tmp_path / "new.txt", 300, seed=70)
    every = {**files, "up/grown.txt": grown, "up/edited.txt": edited, "up/new.txt": new}

    assert skipped(client, bucket, every, "up/") == set(files)
    assert skipped_sentence(len(files), len(every)) == "3 to upload, 10 unchanged, skipped"
    assert skipped_sentence(10_000, 10_000) == "10,000 unchanged, skipped"


def test_few_keys_are_headed_many_are_listed(moto_url, s3, bucket, tmp_path: Path) -> None:
    path = make_file(tmp_path / "f.bin", 10, seed=1)
    keys = [f"k/{i:03d}" for i in range(HEAD_LIMIT + 1)]
    for key in keys[:5]:
        put(s3, bucket, key, path)
    few, calls = counting_client(moto_url)
    found = existing_objects(few, bucket, keys[:HEAD_LIMIT], "k/")
    assert sorted(found) == keys[:5] and found.note is None
    # A HEAD per key, and one HeadBucket to tell a missing key from a missing bucket.
    assert calls == {"HeadObject": HEAD_LIMIT, "HeadBucket": 1}
    assert found["k/000"] == RemoteObject(10, f'"{hashlib.md5(path.read_bytes()).hexdigest()}"')

    many, calls = counting_client(moto_url)
    found = existing_objects(many, bucket, keys, "k/")
    assert sorted(found) == keys[:5]
    assert calls == {"ListObjectsV2": 1}


def test_changed_content_is_found_through_a_multipart_etag(s3, client, bucket,
                                                           tmp_path: Path) -> None:
    size = 20 * MiB
    plan = make_plan(size, taper=TAPER_V1)  # what mpugui does by default: 4 x 5 MiB
    assert [p.size for p in plan.parts()] == [5 * MiB] * 4
    ours = make_file(tmp_path / "ours.bin", size, seed=1)
    put_multipart(s3, bucket, "m/ours.bin", ours, [p.size for p in plan.parts()])
    # The equal cut (16 MiB + 4 MiB), and aws cli's 8 MiB parts.
    equal = make_file(tmp_path / "equal.bin", size, seed=2)
    put_multipart(s3, bucket, "m/equal.bin", equal, [16 * MiB, 4 * MiB])
    awscli = make_file(tmp_path / "awscli.bin", size, seed=3)
    put_multipart(s3, bucket, "m/awscli.bin", awscli, [8 * MiB, 8 * MiB, 4 * MiB])
    # A cut no known tool makes: undeterminable, so uploaded again.
    odd = make_file(tmp_path / "odd.bin", size, seed=4)
    put_multipart(s3, bucket, "m/odd.bin", odd, [9 * MiB, 9 * MiB, 2 * MiB])
    edited = make_file(tmp_path / "edited.bin", size, seed=5)
    put_multipart(s3, bucket, "m/edited.bin", edited, [p.size for p in plan.parts()])
    rewrite_same_size(edited)
    files = {"m/ours.bin": ours, "m/equal.bin": equal, "m/awscli.bin": awscli,
             "m/odd.bin": odd, "m/edited.bin": edited}
    remote = existing_objects(client, bucket, list(files), "m/")
    assert all(remote[k].etag.strip('"').endswith(("-4", "-2", "-3")) for k in files)
    assert skipped(client, bucket, files, "m/") == {"m/ours.bin", "m/equal.bin", "m/awscli.bin"}


def test_candidate_cuts() -> None:
    size = 20 * MiB
    tapered = (0, 5 * MiB, 10 * MiB, 15 * MiB, 20 * MiB)
    assert candidate_cuts(size, 4) == [tapered]  # mpugui's tapered plan
    two = candidate_cuts(size, 2)
    assert two[0] == (0, 16 * MiB, 20 * MiB)  # mpugui's equal 16 MiB parts first
    assert (0, 15 * MiB, 20 * MiB) in two and (0, 10 * MiB, 20 * MiB) in two  # s3cmd, size/2
    three = candidate_cuts(size, 3)
    assert (0, 8 * MiB, 16 * MiB, 20 * MiB) in three  # aws cli
    assert (0, 7 * MiB, 14 * MiB, 20 * MiB) in three  # N parts of size/N, whole MiB
    assert all(len(c) == 4 and c[-1] == size for c in three)
    assert candidate_cuts(size, 0) == [] and candidate_cuts(10, 11) == []


# ------------------------------------------------------------ recorded ETags
class _NoHashing:
    """Stands in for hashlib inside unchanged.py: any hashing fails the test."""

    def md5(self, *args: Any) -> Any:
        raise AssertionError("is_unchanged hashed the file")


def test_recorded_etag_skips_without_hashing(s3, client, bucket, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_file(tmp_path / "r.bin", 4000, seed=9)
    etag = put(s3, bucket, "r/r.bin", path)
    ident = identity(str(path))
    remote = existing_objects(client, bucket, ["r/r.bin"])["r/r.bin"]
    recorded = Recorded(etag=etag, size=ident.size, mtime_ns=ident.mtime_ns,
                        sample=ident.sample)
    monkeypatch.setattr(unchanged, "hashlib", _NoHashing())
    assert is_unchanged(str(path), ident, remote, recorded)
    # The same without the journal's record does hash (so the stub above counts).
    with pytest.raises(AssertionError, match="hashed the file"):
        is_unchanged(str(path), ident, remote, None)
    # A touched file (other mtime) is no longer the recorded one: hashed too.
    touched = Identity(ident.size, ident.mtime_ns + 1, ident.sample)
    with pytest.raises(AssertionError, match="hashed the file"):
        is_unchanged(str(path), touched, remote, recorded)
    monkeypatch.undo()
    assert is_unchanged(str(path), touched, remote, recorded)  # same bytes, by MD5
    # A record of another object (the key was overwritten since): not trusted.
    other = Recorded("0" * 32, ident.size, ident.mtime_ns, ident.sample)
    rewrite_same_size(path)
    assert not is_unchanged(str(path), identity(str(path)), remote, other)


def test_opaque_etags_need_a_record() -> None:
    ident = Identity(100, 1, "s")
    kms = RemoteObject(100, '"not-an-md5-etag"')
    assert not is_unchanged("/nonexistent", ident, kms, None)
    assert is_unchanged("/nonexistent", ident, kms, Recorded('"not-an-md5-etag"', 100, 1, "s"))
    assert not is_unchanged("/nonexistent", ident, RemoteObject(101, kms.etag),
                            Recorded(kms.etag, 100, 1, "s"))  # the size decides first
    assert not is_unchanged("/nonexistent", ident, None, None)
    # A plain-MD5 ETag over a file that cannot be read: upload it (the upload says why).
    assert not is_unchanged("/nonexistent", ident, RemoteObject(100, "a" * 32), None)
    # hash_limit: larger files are not hashed, so count as changed.
    assert not is_unchanged("/nonexistent", ident, RemoteObject(100, "a" * 32), None,
                            hash_limit=99)


# ---------------------------------------------------------------- listing
def test_listing_pages_over_a_thousand_keys(moto_url, big_bucket) -> None:
    probe = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    first = probe.list_objects_v2(Bucket=big_bucket, Prefix=BIG_PREFIX)
    assert first["KeyCount"] == LIST_PAGE and first["IsTruncated"]  # moto pages by 1000

    wanted = [f"{BIG_PREFIX}{i:05d}" for i in range(0, BIG_COUNT, 7)] + [f"{BIG_PREFIX}new"]
    c, calls = counting_client(moto_url)
    found = existing_objects(c, big_bucket, wanted, BIG_PREFIX)
    assert sorted(found) == wanted[:-1]
    assert found[f"{BIG_PREFIX}01001"] == RemoteObject(0, '"d41d8cd98f00b204e9800998ecf8427e"')
    assert calls == {"ListObjectsV2": 2}

    # Streamed, from many threads: listed once, on first use.
    c, calls = counting_client(moto_url)
    listing = RemoteListing(c, big_bucket, BIG_PREFIX)
    assert calls == {}
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(listing.get, [f"{BIG_PREFIX}{i:05d}" for i in range(BIG_COUNT)]))
    assert all(o is not None and o.size == 0 for o in got)
    assert listing.get(f"{BIG_PREFIX}missing") is None
    assert calls == {"ListObjectsV2": 2} and listing.pages == 2 and listing.heads == 0
    assert listing.get("other/after") is not None  # outside the prefix: a HEAD
    assert listing.heads == 1


def test_listing_budget_heads_what_it_did_not_reach(moto_url, big_bucket) -> None:
    # 11 keys under a prefix of 1,005 objects: one page (11 // HEAD_LIMIT),
    # then a HEAD each for the keys after it.
    wanted = [f"{BIG_PREFIX}{i:05d}" for i in (3, 500, 999)] + \
             [f"{BIG_PREFIX}{i:05d}" for i in range(1000, BIG_COUNT)] + \
             [f"{BIG_PREFIX}00001x", f"{BIG_PREFIX}zz", f"{BIG_PREFIX}zzz"]
    assert len(wanted) == HEAD_LIMIT + 1
    c, calls = counting_client(moto_url)
    found = existing_objects(c, big_bucket, wanted, BIG_PREFIX)
    assert sorted(found) == sorted(wanted[:8])
    # 00001x sorts inside the first page, so the listing answers it.
    assert calls == {"ListObjectsV2": 1, "HeadObject": 7}


def test_common_prefix() -> None:
    assert common_prefix([]) == ""
    assert common_prefix(["a/b/c", "a/b/d", "a/bx"]) == "a/b"
    with pytest.raises(ValueError, match="start with the prefix"):
        existing_objects(None, "b", ["x/1"], "y/")


# ----------------------------------------------------------------- errors
def test_missing_bucket_is_a_sentence(client) -> None:
    name = f"missing-{uuid.uuid4().hex[:10]}"
    sentence = f"The bucket '{name}' does not exist."
    with pytest.raises(MpuguiError, match=sentence):  # listed
        existing_objects(client, name, [f"k{i}" for i in range(HEAD_LIMIT + 1)])
    with pytest.raises(MpuguiError, match=sentence):  # HEADed
        existing_objects(client, name, ["k1"])
    listing = RemoteListing(client, name, "")
    for _ in range(2):  # every caller hears it, not just the first
        with pytest.raises(MpuguiError, match=sentence):
            listing.get("k1")


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    c = boto3.client("s3", region_name="us-east-1")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def test_denied_listing_falls_back_to_head(stubbed) -> None:
    c, stub = stubbed
    stub.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403)
    stub.add_response("head_object", {"ContentLength": 5, "ETag": '"abc"'},
                      {"Bucket": "b", "Key": "p/a"})
    stub.add_client_error("head_object", "404", http_status_code=404)
    stub.add_response("head_bucket", {})
    stub.add_client_error("head_object", "403", http_status_code=403)
    listing = RemoteListing(c, "b", "p/")
    assert listing.get("p/a") == RemoteObject(5, '"abc"')
    assert listing.get("p/b") is None
    assert listing.get("p/c") is None  # denied: uploaded
    assert listing.note == ("This account may not list s3://b/p/, so each file was checked "
                            "with its own request. 1 file could not be checked (access "
                            "denied) and will be uploaded.")


def test_nothing_checkable_uploads_everything(stubbed) -> None:
    c, stub = stubbed
    stub.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403)
    stub.add_client_error("head_object", "403", http_status_code=403)
    stub.add_client_error("head_object", "403", http_status_code=403)
    listing = RemoteListing(c, "b", "p/")
    assert listing.get("p/a") is None and listing.get("p/b") is None
    assert listing.note == ("Existing files in s3://b/p/ cannot be checked (access denied), "
                            "so everything is uploaded.")
