"""The engine against moto's real HTTP server: sizes around the part and
threshold edges, every object downloaded and compared byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpugui.core.states import DONE
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file


def wait_state(qtbot, engine, transfer_id: int, states: set[str], timeout: int = 60000) -> str:
    """Wait (on signals, not sleeps) until the transfer reaches one of `states`."""
    def reached() -> bool:
        snap = engine.current_snapshot().by_id(transfer_id)
        return snap is not None and snap.state in states and not snap.detail.startswith("cancel")
    qtbot.waitUntil(reached, timeout=timeout)
    snap = engine.current_snapshot().by_id(transfer_id)
    assert snap is not None
    return snap.state


@pytest.mark.parametrize("size", [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 17 * MiB + 12345])
def test_upload_sizes_byte_identical(qtbot, engine_factory, s3, bucket, endpoint, tmp_path: Path,
                                     size: int) -> None:
    src = make_file(tmp_path / f"f{size}.bin", size, seed=size)
    engine = engine_factory()
    tid = engine.add(UploadRequest(str(src), bucket, f"k/{size}", endpoint))
    assert wait_state(qtbot, engine, tid, {DONE, "failed"}) == DONE, \
        engine.current_snapshot().by_id(tid)
    body = s3.get_object(Bucket=bucket, Key=f"k/{size}")["Body"].read()
    assert body == src.read_bytes()
    snap = engine.current_snapshot().by_id(tid)
    assert snap is not None
    expected_parts = 1 if size < 5 * MiB else -(-size // (5 * MiB))
    assert snap.parts_total == expected_parts and snap.parts_done == expected_parts
    assert snap.done_bytes == size
    assert snap.verification and "size" in snap.verification
    if size >= 5 * MiB:
        assert "multipart ETag" in snap.verification
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("algo", ["crc32c", "crc32", "sha256", "md5", "none"])
def test_every_checksum_choice_uploads_and_verifies(qtbot, engine_factory, s3, bucket, endpoint,
                                                    tmp_path: Path, algo: str) -> None:
    src = make_file(tmp_path / f"{algo}.bin", 11 * MiB + 1, seed=len(algo))
    engine = engine_factory()
    tid = engine.add(UploadRequest(str(src), bucket, algo, endpoint, checksum=algo))
    assert wait_state(qtbot, engine, tid, {DONE, "failed"}) == DONE
    snap = engine.current_snapshot().by_id(tid)
    assert snap is not None and snap.checksum == algo
    assert all((p.checksum is None) == (algo == "none") for p in snap.parts)
    assert snap.wire_bytes == src.stat().st_size  # each byte read once: no second checksum pass
    assert s3.get_object(Bucket=bucket, Key=algo)["Body"].read() == src.read_bytes()


def test_checksum_when_required_endpoint(qtbot, engine_factory, s3, bucket, endpoint,
                                         tmp_path: Path) -> None:
    """The compatibility switch for stores that reject default checksums."""
    src = make_file(tmp_path / "compat.bin", 6 * MiB, seed=77)
    engine = engine_factory()
    compat = endpoint.with_(checksum_when_required=True)
    tid = engine.add(UploadRequest(str(src), bucket, "compat", compat, checksum="none"))
    assert wait_state(qtbot, engine, tid, {DONE, "failed"}) == DONE
    assert s3.get_object(Bucket=bucket, Key="compat")["Body"].read() == src.read_bytes()


def test_standard_aws_environment_is_honoured(qtbot, engine_factory, s3, bucket, moto_url,
                                              tmp_path: Path, monkeypatch) -> None:
    """AWS_PROFILE (from a credentials file) and AWS_ENDPOINT_URL, as boto3 does."""
    creds = tmp_path / "credentials"
    creds.write_text("[lab]\naws_access_key_id = fromprofile\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "lab")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    from mpugui.core.s3.endpoint import Endpoint

    src = make_file(tmp_path / "env.bin", 100, seed=5)
    engine = engine_factory()
    tid = engine.add(UploadRequest(str(src), bucket, "env", Endpoint(region="us-east-1")))
    assert wait_state(qtbot, engine, tid, {DONE, "failed"}) == DONE
    assert s3.get_object(Bucket=bucket, Key="env")["Body"].read() == src.read_bytes()


def test_part_bodies_are_written_in_large_socket_blocks(bucket, endpoint) -> None:
    """urllib3 writes a body 16 KiB at a time unless told otherwise; our
    clients' connections take SEND_BLOCK (see endpoint._widen_send_blocks).
    Checked on the pool a real request used, so a botocore that moved the
    setting out of reach fails here rather than silently losing the saving."""
    from mpugui.core.s3.endpoint import SEND_BLOCK, ClientFactory

    client = ClientFactory().client(endpoint)
    client.put_object(Bucket=bucket, Key="blocks", Body=b"x" * 100)
    manager = client._endpoint.http_session._manager
    pools = [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118 - no __iter__
    assert pools and all(p.conn_kw.get("blocksize") == SEND_BLOCK for p in pools)
    conn = pools[0]._get_conn()
    try:
        assert conn.blocksize == SEND_BLOCK
    finally:
        pools[0]._put_conn(conn)


def test_parts_are_read_one_lane_at_a_time(qtbot, engine_factory, s3, bucket, endpoint,
                                           tmp_path: Path, monkeypatch) -> None:
    """read_lanes bounds how many parts are read and checksummed at once (CPU
    work that starved the GUI thread when 16 parts started together), while
    the parts still upload concurrently. read_range is wrapped to count, not
    replaced: the real file is read."""
    import threading
    import time

    import mpugui.engine.jobs as engine_mod  # the part steps read with read_range

    inside, most, lock = [0], [0], threading.Lock()
    real = engine_mod.read_range

    def counted(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.05)  # widen the window in which a second read could overlap
            return real(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(engine_mod, "read_range", counted)
    src = make_file(tmp_path / "lanes.bin", 4 * 5 * MiB + 7, seed=5)
    engine = engine_factory(read_lanes=1)
    tid = engine.add(UploadRequest(str(src), bucket, "lanes", endpoint))
    assert wait_state(qtbot, engine, tid, {DONE, "failed"}) == DONE
    assert most[0] == 1
    assert s3.get_object(Bucket=bucket, Key="lanes")["Body"].read() == src.read_bytes()
