"""The user's essential paths through the real CLI, against moto and against
s3rver (npm 3.7.1, tests/s3rver.py): one parametrised matrix, where each
store's known gaps are expected outcomes with their sentence, never skips.

What s3rver 3.7.1 supports, as measured here (test_s3rver_gaps_are_what_we_document
keeps the table honest; the README's "Compatible stores" repeats it):

  feature                         s3rver 3.7.1                      mpugui
  PutObject, multipart upload     yes                               uploads
  multipart ETag                  the whole file's MD5, no "-N"     compares the file's MD5
                                                                    (up to 64 MiB)
  per-part checksums              accepted; not checked, not kept   not counted as evidence
  Content-MD5                     not checked                       -
  ListParts                       405 MethodNotAllowed              resume trusts the journal
                                                                    and says so
  AbortMultipartUpload            405 MethodNotAllowed              cancel says the parts stay
                                                                    and where
  ListMultipartUploads            501 NotImplemented                `uploads list`/`adopt` say so
  lifecycle, bucket encryption    501 NotImplemented                -
  If-None-Match on PutObject      ignored                           --no-overwrite HEADs first
  ListObjectsV2, HeadObject       yes                               skip-existing works
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mpugui.core.journal.store import Journal, TransferRecord
from mpugui.core.units import MiB
from tests.clirun import json_lines, run_cli, start_cli
from tests.conftest import make_file


@dataclass(frozen=True)
class Store:
    """One server and what it is known to lack (expected outcomes)."""

    name: str
    url: str
    client: object
    lists_parts: bool
    aborts: bool
    lists_uploads: bool
    multipart_evidence: str  # the evidence token that verifies a multipart object there

    def args(self) -> list[str]:
        return ["--endpoint-url", self.url, "--path-style"]


@pytest.fixture(params=["moto", "s3rver"])
def server(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The store under test."""
    if request.param == "moto":
        url = request.getfixturevalue("moto_url")
        features = dict(lists_parts=True, aborts=True, lists_uploads=True,
                        multipart_evidence="multipart-etag")
    else:
        url = request.getfixturevalue("s3rver_env").url
        features = dict(lists_parts=False, aborts=False, lists_uploads=False,
                        multipart_evidence="md5-etag")
    yield Store(request.param, url, _client(url), **features)


def _client(url: str) -> object:
    # Keys from the environment the fixtures set (boto3's default session
    # would keep the first ones it saw).
    return boto3.Session().client("s3", endpoint_url=url, region_name="us-east-1",
                                  config=Config(s3={"addressing_style": "path"}))


@pytest.fixture
def bucket_on(server: Store) -> str:
    name = f"compat-{uuid.uuid4().hex[:10]}"
    server.client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


def _get(server: Store, bucket: str, key: str) -> bytes:
    return server.client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore


def _transfers() -> list[dict]:
    return json_lines(run_cli("transfers", "--json").stdout)


def _journaled() -> TransferRecord:
    """The one journaled transfer, read in-process (a CLI start costs seconds here)."""
    journal = Journal(Path(os.environ["MPUGUI_HOME"]) / "journal.sqlite3")
    try:
        (rec,) = journal.transfers()
        return rec
    finally:
        journal.close()


def test_sizes_from_empty_to_multipart_are_verified_then_skipped(server: Store, bucket_on: str,
                                                                tmp_path: Path) -> None:
    sizes = {"empty": 0, "small": 1024, "edge": 5 * MiB + 1, "multi": 17 * MiB + 12345}
    for name, size in sizes.items():
        make_file(tmp_path / "src" / name, size, seed=size)
    done = run_cli("upload", str(tmp_path / "src") + "/", f"s3://{bucket_on}/s/",
                   "--part-size", "5MiB", *server.args())
    assert done.returncode == 0, done.stdout + done.stderr
    for name in sizes:
        assert _get(server, bucket_on, f"s/{name}") == (tmp_path / "src" / name).read_bytes()
    rows = {Path(r["source"]).name: r for r in _transfers()}
    assert all(r["state"] == "done" and r["evidence"][0] == "size" for r in rows.values())
    # The multipart object is verified by what this store's ETag means.
    assert server.multipart_evidence in rows["multi"]["evidence"], rows["multi"]
    shown = run_cli("transfers").stdout
    assert "verified by size + " in shown
    # The same folder again: every file is shown unchanged by this store's
    # ETags (s3rver: the file's MD5, also for the multipart object).
    again = run_cli("upload", str(tmp_path / "src") + "/", f"s3://{bucket_on}/s/",
                    "--part-size", "5MiB", *server.args())
    assert again.returncode == 0, again.stdout + again.stderr
    assert "4 unchanged, skipped." in again.stdout + again.stderr


def _start_and_interrupt(server: Store, bucket: str, src: Path,
                         sig: signal.Signals = signal.SIGTERM, parts: int = 1) -> None:
    """Upload with one connection, slowed, and signal it once `parts` are done."""
    proc = start_cli("upload", str(src), f"s3://{bucket}/big", "--part-size", "5MiB",
                     "--concurrency", "1", "--bwlimit", "8MiB/s", "--json", *server.args())
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"progress"' in line and any(
                t["parts_done"] >= parts for t in json.loads(line)["transfers"]):
            break
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode == (3 if sig == signal.SIGTERM else -signal.SIGKILL)
    rec = _journaled()
    assert rec.upload_id and rec.state == ("paused" if sig == signal.SIGTERM else "uploading")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_an_interrupted_run_resumes_without_sending_done_parts(server: Store, bucket_on: str,
                                                               tmp_path: Path, sig) -> None:
    src = make_file(tmp_path / "big", 17 * MiB, seed=3)
    # After a SIGKILL the last 30 ms of journal writes may be lost: with two
    # parts reported, the first is journaled (all a store without ListParts has).
    _start_and_interrupt(server, bucket_on, src, sig, parts=1 if sig == signal.SIGTERM else 2)
    resumed = run_cli("resume", "--all", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _get(server, bucket_on, "big") == src.read_bytes()
    events = json_lines(resumed.stdout)
    assert events[-1]["wire_bytes"] <= src.stat().st_size - 5 * MiB  # part 1 was kept
    problems = [e["text"] for e in events if e["event"] == "problem"]
    trusted = "the server can't list parts; trusting the local record"
    if server.lists_parts:
        assert not any(trusted in p for p in problems)
    else:  # expected: s3rver answers ListParts with 405
        assert any(trusted in p for p in problems), problems


def test_cancel_removes_the_parts_or_says_where_they_stay(server: Store, bucket_on: str,
                                                          tmp_path: Path, request) -> None:
    src = make_file(tmp_path / "big", 17 * MiB, seed=4)
    _start_and_interrupt(server, bucket_on, src)
    rec = _journaled()
    cancelled = run_cli("cancel", str(rec.id))
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    (row,) = _transfers()
    assert row["state"] == "cancelled"
    if server.aborts:
        assert "nothing of it is left" not in cancelled.stderr
        uploads = server.client.list_multipart_uploads(Bucket=bucket_on)  # type: ignore
        assert uploads.get("Uploads", []) == []
    else:  # expected: s3rver answers AbortMultipartUpload with 405
        assert "can't abort multipart uploads" in cancelled.stderr, cancelled.stderr
        assert f"._S3rver_uploads/{rec.upload_id}" in cancelled.stderr
        s3rver = request.getfixturevalue("s3rver_server")
        assert rec.upload_id in [d.name for d in s3rver.upload_dirs(bucket_on)]
        assert "can't abort" in row["error"]


def test_listing_in_progress_uploads(server: Store, bucket_on: str) -> None:
    c = server.client
    upload_id = c.create_multipart_upload(Bucket=bucket_on, Key="orphan")["UploadId"]  # type: ignore
    c.upload_part(Bucket=bucket_on, Key="orphan", UploadId=upload_id,  # type: ignore
                  PartNumber=1, Body=b"x" * 1000)
    listed = run_cli("uploads", "list", f"s3://{bucket_on}", *server.args())
    if server.lists_uploads:
        assert listed.returncode == 0, listed.stderr
        assert upload_id in listed.stdout
    else:  # expected: s3rver answers ListMultipartUploads with 501
        assert listed.returncode == 1
        assert "does not support ListMultipartUploads (501 NotImplemented)" in listed.stderr
        assert "Traceback" not in listed.stderr and "INITIATED" not in listed.stdout


def test_s3rver_gaps_are_what_we_document(s3rver_env) -> None:
    """The module docstring's table, measured: when s3rver changes, this says so."""
    c: Any = _client(s3rver_env.url)
    bucket = f"gaps-{uuid.uuid4().hex[:8]}"
    c.create_bucket(Bucket=bucket)
    upload_id = c.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]

    def answer(call, **kw) -> tuple[int, str]:
        try:
            call(Bucket=bucket, **kw)
        except ClientError as exc:
            return (exc.response["ResponseMetadata"]["HTTPStatusCode"],
                    exc.response["Error"]["Code"])
        return 200, ""

    assert answer(c.list_parts, Key="k", UploadId=upload_id) == (405, "MethodNotAllowed")
    assert answer(c.abort_multipart_upload, Key="k", UploadId=upload_id) == \
        (405, "MethodNotAllowed")
    assert answer(c.list_multipart_uploads) == (501, "NotImplemented")
    assert answer(c.get_bucket_lifecycle_configuration) == (501, "NotImplemented")
    assert answer(c.get_bucket_encryption) == (501, "NotImplemented")
    # A wrong Content-MD5 is stored anyway; If-None-Match is ignored.
    assert answer(c.put_object, Key="md5", Body=b"abc",
                  ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==") == (200, "")
    assert answer(c.put_object, Key="md5", Body=b"abc", IfNoneMatch="*") == (200, "")


def test_checksum_compatibility_switch_sends_no_checksum_header(qtbot, engine_factory, moto_url,
                                                                 s3, bucket, tmp_path) -> None:
    """--checksum-when-required means what it says: without an explicit
    --checksum, no x-amz-checksum-* (ours or botocore's) and no Content-MD5
    goes with the upload's requests."""
    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.engine.engine import UploadRequest
    from tests.faultproxy import Fault, FaultProxy
    from tests.functional.test_faults import wait_final

    with FaultProxy(moto_url) as proxy:
        seen: list[dict[str, str]] = []
        proxy.add(Fault("*", "error", times=None,
                        when=lambda req: seen.append(req.headers) and False))
        compat = Endpoint(endpoint_url=proxy.url, region="us-east-1",
                          checksum_when_required=True)
        engine = engine_factory()
        files = [make_file(tmp_path / "big", 11 * MiB, seed=5),
                 make_file(tmp_path / "small", 2000, seed=6)]
        ids = [engine.add(UploadRequest(str(f), bucket, f.name, compat)) for f in files]
        snaps = [wait_final(qtbot, engine, tid) for tid in ids]
        engine.shutdown()
    assert [s.state for s in snaps] == ["done", "done"] and snaps[0].checksum == "none"
    for f in files:
        assert s3.get_object(Bucket=bucket, Key=f.name)["Body"].read() == f.read_bytes()
    uploads = [h for h in seen if h.get("content-length", "0") not in ("0", "")]
    assert uploads and not [h for h in uploads
                            if any(k.startswith("x-amz-checksum-") or k == "content-md5"
                                   for k in h)]


def test_every_checksum_mode(qtbot, server: Store, bucket_on: str, engine_factory,
                             tmp_path: Path) -> None:
    """The engine itself, one multipart file per --checksum choice at once."""
    from mpugui.core.s3.checksums import ALGORITHMS
    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.engine.engine import UploadRequest
    from tests.functional.test_faults import wait_final

    at = Endpoint(endpoint_url=server.url, region="us-east-1", path_style=True)
    engine = engine_factory()
    files = {name: make_file(tmp_path / name, 6 * MiB + 7, seed=len(name)) for name in ALGORITHMS}
    ids = {name: engine.add(UploadRequest(str(f), bucket_on, name, at, checksum=name))
           for name, f in files.items()}
    for name, tid in ids.items():
        snap = wait_final(qtbot, engine, tid)
        assert snap.state == "done", (name, snap.detail)
        assert _get(server, bucket_on, name) == files[name].read_bytes()
        evidence = engine.journal.get(tid).evidence or ""
        assert server.multipart_evidence in evidence.split(","), (name, evidence)


def test_no_overwrite_keeps_what_is_there(server: Store, bucket_on: str, tmp_path: Path) -> None:
    """s3rver ignores If-None-Match: the HEAD before each upload still refuses."""
    files = [make_file(tmp_path / "small", 100, seed=1), make_file(tmp_path / "big", 6 * MiB)]
    for f in files:
        server.client.put_object(Bucket=bucket_on, Key=f.name, Body=b"old")  # type: ignore
    done = run_cli("upload", *map(str, files), f"s3://{bucket_on}/", "--no-overwrite",
                   "--part-size", "5MiB", *server.args())
    assert done.returncode == 1
    # failures are said on stderr (issue 14)
    assert done.stderr.count("already exists and the transfer is set not to overwrite it") == 2
    for f in files:
        assert _get(server, bucket_on, f.name) == b"old"


def test_adopt_and_lifecycle(server: Store, bucket_on: str, tmp_path: Path) -> None:
    """Both need listing in-progress uploads or lifecycle rules: s3rver has neither."""
    src = make_file(tmp_path / "orphan", 6 * MiB, seed=8)
    c = server.client
    upload_id = c.create_multipart_upload(Bucket=bucket_on, Key="orphan")["UploadId"]  # type: ignore
    c.upload_part(Bucket=bucket_on, Key="orphan", UploadId=upload_id,  # type: ignore
                  PartNumber=1, Body=src.read_bytes()[:5 * MiB])
    adopted = run_cli("uploads", "adopt", f"s3://{bucket_on}/orphan", "--upload-id", upload_id,
                      str(src), *server.args())
    rule = run_cli("uploads", "lifecycle", f"s3://{bucket_on}", "--abort-after", "7",
                   *server.args())
    if server.lists_uploads:
        assert adopted.returncode == 0, adopted.stdout + adopted.stderr
        assert _get(server, bucket_on, "orphan") == src.read_bytes()
        assert rule.returncode == 0, rule.stdout + rule.stderr
    else:  # expected: 501 for ListMultipartUploads and the lifecycle configuration
        assert adopted.returncode == 1
        assert "does not support ListMultipartUploads" in adopted.stderr
        assert rule.returncode == 1
        assert "does not support GetBucketLifecycleConfiguration" in rule.stderr


@pytest.mark.parametrize(("url", "compat", "equal"), [
    (None, False, False),
    ("http://127.0.0.1:9000", False, False),
    ("https://storage.googleapis.com", True, False),
    ("https://bucket.storage.googleapis.com", True, False),
    ("https://notstorage.googleapis.com.example.org", False, False),
    ("https://0123abc.r2.cloudflarestorage.com", False, True),
])
def test_stores_known_by_host_name_get_their_quirks(url, compat: bool, equal: bool) -> None:
    """core/s3/stores.py: GCS gets the checksum compatibility without the switch."""
    from mpugui.core.s3.checksums import DEFAULT_ALGORITHM, default_for
    from mpugui.core.s3.endpoint import Endpoint, client_config

    endpoint = Endpoint(endpoint_url=url)
    assert endpoint.checksum_compat() is compat and endpoint.needs_equal_parts() is equal
    config = client_config(endpoint)
    assert config.request_checksum_calculation == ("when_required" if compat
                                                   else "when_supported")
    assert default_for(endpoint.checksum_compat()) == ("none" if compat else DEFAULT_ALGORITHM)


def test_the_window_says_what_verified_the_object(qtbot, s3rver_env, engine_factory,
                                                  tmp_path: Path) -> None:
    """The queue's state tooltip carries the evidence (s3rver: the file's MD5)."""
    from PySide6.QtCore import Qt

    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.engine.engine import UploadRequest
    from mpugui.ui.queue.queue_columns import STATE
    from mpugui.ui.queue.queue_model import QueueModel
    from tests.functional.test_faults import wait_final

    bucket = f"ui-{uuid.uuid4().hex[:8]}"
    _client(s3rver_env.url).create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    engine = engine_factory()
    at = Endpoint(endpoint_url=s3rver_env.url, region="us-east-1", path_style=True)
    tid = engine.add(UploadRequest(str(make_file(tmp_path / "f", 11 * MiB, seed=2)), bucket,
                                   "f", at))
    assert wait_final(qtbot, engine, tid).state == "done"
    model = QueueModel()
    model.update(engine.current_snapshot())
    tip = model.index(0, STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert "Verified: size + MD5 ETag" in tip
