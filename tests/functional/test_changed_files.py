"""Files that change while they are uploaded: grown, truncated, rewritten in
place, deleted, made unreadable. The transfer must stop with a sentence that
says what happened and what became of the upload; no object may be created
(or an existing one overwritten) with mixed data.

The proxy holds part 2 at the server's door while the file is changed, so the
change lands mid-upload at the same point every time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.states import CANCELLED, DONE, FAILED
from mpugui.core.units import MiB
from mpugui.engine.engine import EngineSettings, TransferEngine, UploadRequest
from tests.clirun import json_lines, start_cli, without_root_powers
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy

SIZE = 22 * MiB + 99
KEPT = "The partial upload is kept on the server"


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


@pytest.fixture
def engine(qtbot, journal, proxy) -> Iterator[TransferEngine]:
    settings = EngineSettings(part_size=5 * MiB, threshold=5 * MiB, concurrency=2,
                              retry_base=0.05, tick_ms=50)
    eng = TransferEngine(journal, ClientFactory(6), settings)
    yield eng
    assert eng.shutdown(), "an engine worker still runs after shutdown()"


def grow(p: Path) -> None:
    with open(p, "ab") as f:
        f.write(b"more")


def truncate(p: Path) -> None:
    os.truncate(p, 7 * MiB)


def rewrite(p: Path) -> None:
    with open(p, "r+b") as f:  # same size, new bytes, in place (same inode)
        f.write(os.urandom(SIZE))


def delete(p: Path) -> None:
    p.unlink()


def upload_and_change(qtbot, engine, proxy, src: Path, bucket: str,
                      change: Callable[[Path], None]):
    hold = proxy.add(Fault("UploadPart", "hold", part=2))
    tid = engine.add(UploadRequest(str(src), bucket, "k", Endpoint(endpoint_url=proxy.url,
                                                                    region="us-east-1")))
    assert hold.held.wait(30)
    change(src)
    hold.release.set()

    def settled() -> bool:
        s = engine.current_snapshot().by_id(tid)
        return s is not None and s.state in (DONE, FAILED) and not engine.busy()
    qtbot.waitUntil(settled, timeout=60000)
    snap = engine.current_snapshot().by_id(tid)
    assert snap is not None
    return tid, snap


@pytest.mark.parametrize(("change", "sentence"), [
    (grow, f"changed size since the upload started ({SIZE:,} → {SIZE + 4:,} bytes)"),
    (truncate, "became shorter while it was being uploaded"),
    (rewrite, "was modified since the upload started"),
    (delete, "has been deleted or moved since the upload started"),
])
def test_changed_file_stops_without_mixed_object(qtbot, engine, proxy, s3, bucket, tmp_path,
                                                 change, sentence) -> None:
    src = make_file(tmp_path / "f.bin", SIZE, seed=7)
    original = src.read_bytes()
    st = src.stat()
    s3.put_object(Bucket=bucket, Key="k", Body=b"the previous version")
    tid, snap = upload_and_change(qtbot, engine, proxy, src, bucket, change)
    assert snap.state == FAILED
    assert f"'{src}' {sentence}." in snap.detail
    # The user is told what became of the upload, and it is so.
    assert KEPT in snap.detail and "resume" in snap.detail and "start over" in snap.detail
    assert engine.journal.get(tid).error == snap.detail
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [snap.upload_id]
    # The existing object was not overwritten with a mix of old and new bytes.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"the previous version"

    if change is delete:
        # Put the same file back (same bytes and mtime): resume finishes the
        # same upload from its finished parts.
        src.write_bytes(original)
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
        engine.resume([tid])
        qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).state == DONE,
                        timeout=30000)
        assert engine.current_snapshot().by_id(tid).upload_id == snap.upload_id
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == original
    elif change is truncate:
        engine.cancel([tid])  # discard: nothing of it stays on the server
        qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).state == CANCELLED,
                        timeout=30000)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"the previous version"
    else:
        # Start over: the file as it is now goes up whole.
        engine.cancel([tid], restart=True)
        qtbot.waitUntil(lambda: tid not in engine.transfer_ids() and bool(engine.transfer_ids())
                        and next(iter(engine.current_snapshot().table.values())).state == DONE,
                        timeout=30000)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_resume_of_a_changed_file_is_refused(qtbot, engine, proxy, s3, bucket,
                                             tmp_path) -> None:
    src = make_file(tmp_path / "f.bin", SIZE, seed=8)
    tid, snap = upload_and_change(qtbot, engine, proxy, src, bucket, grow)
    assert snap.state == FAILED
    engine.resume([tid])  # the file is still changed: refused again, nothing sent
    sent = proxy.body_bytes()
    qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).state == FAILED
                    and not engine.busy(), timeout=30000)
    assert "changed size" in engine.current_snapshot().by_id(tid).detail
    assert proxy.body_bytes() == sent
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_file_made_unreadable_mid_upload(proxy, s3, bucket, tmp_path) -> None:
    """Root reads any file, so the CLI runs without that power (see
    without_root_powers) and loses read permission on the file mid-upload."""
    src = make_file(tmp_path / "f.bin", SIZE, seed=9)
    hold = proxy.add(Fault("UploadPart", "hold", part=2))
    proc = start_cli("upload", str(src), f"s3://{bucket}/k", "--endpoint-url", proxy.url,
                     "--part-size", "5MiB", "--concurrency", "2", "--json",
                     prefix=without_root_powers())
    try:
        assert hold.held.wait(60)
        os.chmod(src, 0)  # the open file stays readable; a fresh open is refused
        hold.release.set()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out + err
    failed = [e for e in json_lines(out) if e["event"] == "state" and e["state"] == "failed"]
    assert failed, out
    error = failed[-1]["error"]
    assert f"'{src}' can no longer be read (permission denied)." in error
    assert KEPT in error
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [failed[-1]["upload_id"]]
