"""Every fault the proxy can inject, once each, against the real engine and
moto's server: the object ends up byte-identical, nothing is left in progress,
and the retries the engine reports are exactly the faults it met."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.s3 import endpoint as endpoint_mod
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import DONE, FAILED
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy

READ_TIMEOUT = 2.0  # seconds; short so a stalled response times out quickly


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


@pytest.fixture
def engines(proxy, engine_factory):
    """conftest's engines, with a short read timeout. Requested after `proxy`,
    so they are shut down (no worker left) before the proxy stops."""
    return functools.partial(engine_factory, read_timeout=READ_TIMEOUT)


def via(proxy: FaultProxy) -> Endpoint:
    return Endpoint(endpoint_url=proxy.url, region="us-east-1")


def wait_final(qtbot, engine, tid: int, timeout: int = 60000):
    def settled() -> bool:
        s = engine.current_snapshot().by_id(tid)
        return s is not None and s.state in (DONE, FAILED) and not engine.busy()
    qtbot.waitUntil(settled, timeout=timeout)
    snap = engine.current_snapshot().by_id(tid)
    assert snap is not None
    return snap


def assert_stored(s3, bucket: str, key: str, src: Path) -> None:
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError"),
                                              (400, "RequestTimeout")])
def test_part_errors_are_retried_and_counted(qtbot, engines, proxy, s3, bucket, tmp_path,
                                             status, code) -> None:
    src = make_file(tmp_path / "f.bin", 17 * MiB + 123, seed=status)
    proxy.add(Fault("UploadPart", "error", status=status, code=code, times=3))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)
    assert proxy.injected_count("error") == 3
    assert snap.retries == 3
    assert sum(p.attempts for p in snap.parts) == len(snap.parts) + 3
    assert proxy.count("UploadPart") == len(snap.parts)  # only good attempts landed


def test_connection_reset_mid_body(qtbot, engines, proxy, s3, bucket, tmp_path) -> None:
    src = make_file(tmp_path / "f.bin", 12 * MiB + 5, seed=1)
    proxy.add(Fault("UploadPart", "reset", part=2, after_bytes=MiB, times=2))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)
    assert proxy.injected_count("reset") == 2 and snap.retries == 2
    assert snap.parts[1].attempts == 3
    # The re-sends are counted on the wire: more bytes went out than the file has.
    assert snap.wire_bytes >= src.stat().st_size + 2 * MiB


def test_stalled_response_times_out_and_is_retried(qtbot, engines, proxy, s3, bucket,
                                                   tmp_path) -> None:
    src = make_file(tmp_path / "f.bin", 11 * MiB, seed=2)
    # The part reaches the server but its answer never comes: botocore's read
    # timeout fires and the part is sent again (same bytes, same part number).
    proxy.add(Fault("UploadPart", "stall", part=1, seconds=READ_TIMEOUT * 4))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)
    assert proxy.injected_count("stall") == 1 and snap.retries == 1
    assert proxy.count("UploadPart") == len(snap.parts) + 1


def test_stalled_small_put_times_out_and_is_retried(qtbot, engines, proxy, s3, bucket,
                                                   tmp_path) -> None:
    # A small file goes out on the put loop (not botocore): its answer never
    # comes, the loop's read-timeout sweep closes the connection, and the
    # engine sends the file again. (The stall outlasts wait_final: only the
    # timeout can end this request in time.)
    src = make_file(tmp_path / "small.bin", 64 * 1024, seed=4)
    proxy.add(Fault("PutObject", "stall", seconds=120))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "small", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "small", src)
    assert proxy.injected_count("stall") == 1 and snap.retries == 1
    assert proxy.count("PutObject") == 2


def test_part_failing_past_all_retries_fails_resumable_then_resumes(
        qtbot, engines, proxy, s3, bucket, tmp_path, monkeypatch) -> None:
    # Fewer botocore attempts than the product's 5, only to keep the test short;
    # botocore's retry logic itself is unchanged.
    real = endpoint_mod.client_config
    monkeypatch.setattr(endpoint_mod, "client_config", lambda *a, **k: real(*a, **k).merge(
        endpoint_mod.Config(retries={"mode": "standard", "total_max_attempts": 2})))
    src = make_file(tmp_path / "f.bin", 16 * MiB + 1, seed=3)
    fault = proxy.add(Fault("UploadPart", "error", part=2, status=503, code="SlowDown",
                            times=None))
    # max_wait=0: give up at once instead of waiting for the server to
    # recover (by default a transfer waits out 5xx answers indefinitely).
    engine = engines(part_retries=1, max_wait=0)
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == FAILED
    assert snap.detail == "The server asked to slow down (503 SlowDown)."
    # 2 botocore attempts x (1 + 1 engine retry) = 4 answers, all counted.
    assert fault.hits == 4 and snap.retries == 3
    upload_id = snap.upload_id
    assert upload_id and engine.journal.get(tid).state == FAILED
    # Failed, not aborted: the upload and its finished parts are still there.
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [upload_id]
    assert 2 not in engine.journal.parts(tid)
    proxy.clear()
    sent_before = proxy.body_bytes()
    engine.resume([tid])
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE and snap.upload_id == upload_id
    assert_stored(s3, bucket, "k", src)
    # Resume re-sent only what was missing, not the whole file.
    assert proxy.body_bytes() - sent_before < src.stat().st_size


def test_complete_answering_200_with_error_body(qtbot, engines, proxy, s3, bucket,
                                                tmp_path) -> None:
    src = make_file(tmp_path / "f.bin", 10 * MiB + 10, seed=4)
    proxy.add(Fault("CompleteMultipartUpload", "complete_error", code="InternalError", times=2))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)
    assert proxy.injected_count("complete_error") == 2
    assert proxy.count("CompleteMultipartUpload") == 1
    assert snap.verification and "multipart ETag" in snap.verification


@pytest.mark.parametrize("server", ["S3/MinIO: NoSuchUpload", "moto: idempotent"])
def test_complete_done_on_server_but_answer_lost(qtbot, engines, proxy, s3, bucket,
                                                 tmp_path, server) -> None:
    src = make_file(tmp_path / "f.bin", 10 * MiB + 11, seed=5)
    nosuchupload = server.endswith("NoSuchUpload")
    proxy.add(Fault("CompleteMultipartUpload", "drop", gone=nosuchupload))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)
    # The first Complete worked; botocore's retry met NoSuchUpload (then HEAD
    # showed the object is exactly our parts) or an idempotent 200.
    assert proxy.injected_count("drop") == 1
    assert proxy.count("CompleteMultipartUpload", 200) == (1 if nosuchupload else 2)
    assert snap.verification and "multipart ETag" in snap.verification


def test_upload_lost_between_parts_is_reported_then_restarted(qtbot, engines, proxy, s3,
                                                              bucket, tmp_path) -> None:
    src = make_file(tmp_path / "f.bin", 21 * MiB + 3, seed=6)
    proxy.add(Fault("UploadPart", "lose_upload", part=3))
    engine = engines(concurrency=1)
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == FAILED
    assert "no longer exists on the server" in snap.detail and "start over" in snap.detail
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # no partial object
    assert engine.journal.get(tid).state == FAILED
    engine.cancel([tid], restart=True)  # what "Start over" does
    qtbot.waitUntil(lambda: bool(engine.transfer_ids()) and engine.transfer_ids() != [tid],
                    timeout=10000)
    (new_id,) = engine.transfer_ids()
    snap = wait_final(qtbot, engine, new_id)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)


def test_create_answer_lost_leaves_no_orphan(qtbot, engines, proxy, s3, bucket,
                                             tmp_path) -> None:
    src = make_file(tmp_path / "f.bin", 11 * MiB, seed=7)
    # The server creates the upload but its answer is lost; botocore's retry
    # creates a second one. The first must not stay behind (billed, unseen).
    proxy.add(Fault("CreateMultipartUpload", "drop"))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert proxy.count("CreateMultipartUpload") == 2
    assert_stored(s3, bucket, "k", src)  # ListMultipartUploads is empty too


@pytest.mark.parametrize("size", [0, 1, 3 * MiB])
def test_put_object_faults(qtbot, engines, proxy, s3, bucket, tmp_path, size) -> None:
    src = make_file(tmp_path / "f.bin", size, seed=size)
    proxy.add(Fault("PutObject", "error", status=503, code="SlowDown"))
    proxy.add(Fault("PutObject", "drop"))  # stored, but the answer is lost
    if size:
        proxy.add(Fault("PutObject", "reset", after_bytes=size // 2))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k", via(proxy)))
    snap = wait_final(qtbot, engine, tid)
    assert snap.state == DONE, snap.detail
    assert_stored(s3, bucket, "k", src)
    assert snap.retries == proxy.injected_count() == (3 if size else 2)
