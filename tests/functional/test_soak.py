"""Soak: 32 uploads of mixed sizes through the fault proxy with every fault
type mixed in at once. Every object must equal its file, nothing may stay in
progress, no object may be duplicated or partial, and the retries the engine
reports must account for every fault it met."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.states import DONE, FAILED
from mpugui.core.units import MiB
from mpugui.engine.engine import EngineSettings, TransferEngine, UploadRequest
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out of a quick local run

READ_TIMEOUT = 2.0
SIZES = (
    [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1] * 3  # the edges, three times over
    + [7 * MiB + 1, 10 * MiB, 11 * MiB + 333, 14 * MiB + 5, 16 * MiB + 1, 19 * MiB + 77,
       22 * MiB + 4097, 25 * MiB + 1, 28 * MiB + 999, 31 * MiB + 3, 34 * MiB + 12345,
       38 * MiB + 7, 41 * MiB + 1, 45 * MiB + 61, 12 * MiB + 11, 23 * MiB + 19, 27 * MiB]
)
PART_FAULTS = ("error", "reset", "stall", "drop")


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url, seed=20261127) as p:
        yield p


@pytest.fixture
def engine(qtbot, journal, proxy) -> Iterator[TransferEngine]:
    settings = EngineSettings(part_size=5 * MiB, threshold=5 * MiB, concurrency=4,
                              retry_base=0.05, tick_ms=50)
    eng = TransferEngine(journal, ClientFactory(8, read_timeout=READ_TIMEOUT), settings)
    yield eng
    assert eng.shutdown(), "an engine worker still runs after shutdown()"


def test_soak_mixed_sizes_every_fault(qtbot, engine, proxy, s3, bucket, tmp_path) -> None:
    assert len(SIZES) >= 30
    files = {f"soak/{i:02d}-{size}.bin": make_file(tmp_path / f"{i:02d}.bin", size, seed=i)
             for i, size in enumerate(SIZES)}
    lose = {key for key in files if key.startswith(("soak/15-", "soak/22-"))}  # 2 and 6 parts
    up = ("UploadPart",)
    for fault in (
        # Each fault once at a fixed point (so every type is surely met)...
        Fault(up, "error", status=503, code="SlowDown", skip=3),
        Fault(up, "error", status=500, code="InternalError", skip=5),
        Fault(up, "error", status=400, code="RequestTimeout", skip=7),
        Fault(up, "reset", skip=9, after_bytes=MiB),
        Fault(up, "stall", skip=11, seconds=READ_TIMEOUT * 3),
        Fault(up, "drop", skip=13),
        Fault("CompleteMultipartUpload", "complete_error", skip=2),
        Fault("CompleteMultipartUpload", "drop", skip=4, gone=True),
        Fault("CreateMultipartUpload", "drop", skip=6),  # a lost Create answer
        # ...then a random share of every part-level fault, on parts and on
        # small PutObjects.
        Fault(up, "error", status=503, code="SlowDown", share=0.06, times=None),
        Fault(up, "error", status=500, code="InternalError", share=0.04, times=None),
        Fault(up, "error", status=400, code="RequestTimeout", share=0.04, times=None),
        Fault(up, "reset", share=0.04, after_bytes=256 * 1024, times=None),
        Fault(up, "stall", share=0.02, seconds=READ_TIMEOUT * 3, times=2),
        Fault(up, "drop", share=0.03, times=None),
        Fault("PutObject", "error", status=503, code="SlowDown", share=0.3, times=3),
        Fault("PutObject", "drop", share=0.3, times=2),
        Fault("PutObject", "reset", after_bytes=1, times=2,
              when=lambda r: int(r.headers.get("content-length", 0)) > 1),
        # Complete: 200 with an <Error> body, and a Complete whose answer is lost
        # (the retry then meets NoSuchUpload, as on S3/MinIO).
        Fault("CompleteMultipartUpload", "complete_error", share=0.2, times=None),
        Fault("CompleteMultipartUpload", "drop", share=0.15, times=None, gone=True),
        # Two uploads are lost on the server between their parts.
        Fault(up, "lose_upload", part=2, times=2, when=lambda r: r.key in lose),
    ):
        proxy.add(fault)

    endpoint = Endpoint(endpoint_url=proxy.url, region="us-east-1")
    ids = {engine.add(UploadRequest(str(src), bucket, key, endpoint)): key
           for key, src in files.items()}

    def settled() -> bool:
        snap = engine.current_snapshot()
        return not engine.busy() and all(t.state in (DONE, FAILED) for t in snap.table.values())

    qtbot.waitUntil(settled, timeout=240000)
    snap = engine.current_snapshot()
    failed = {t.key: t for t in snap.table.values() if t.state == FAILED}
    # The only failures are the lost uploads, each with a sentence that says
    # what to do; "Start over" then uploads them.
    assert set(failed) == lose, {k: t.detail for k, t in failed.items()}
    for t in failed.values():
        assert "no longer exists on the server" in t.detail and "start over" in t.detail
    first_run = {t.id: t for t in snap.table.values()}
    engine.cancel([t.id for t in failed.values()], restart=True)
    qtbot.waitUntil(lambda: settled() and len(engine.transfer_ids()) == len(files)
                    and not set(engine.transfer_ids()) & {t.id for t in failed.values()},
                    timeout=120000)
    snap = engine.current_snapshot()
    assert Counter(t.state for t in snap.table.values()) == {DONE: len(files)}

    # Every object equals its file; nothing else is in the bucket.
    listed = s3.list_objects_v2(Bucket=bucket, MaxKeys=1000)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(files)
    for key, src in files.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == src.read_bytes(), key
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    # Every fault type was met, and every part-level fault shows as a retry
    # of the transfer it hit.
    kinds = Counter((op, action) for op, action, _ in proxy.injected)
    for action in (*PART_FAULTS, "lose_upload"):
        assert kinds[("UploadPart", action)] >= 1, kinds
    assert kinds[("PutObject", "error")] and kinds[("PutObject", "reset")], kinds
    assert kinds[("CompleteMultipartUpload", "complete_error")], kinds
    assert kinds[("CompleteMultipartUpload", "drop")], kinds
    assert kinds[("CreateMultipartUpload", "drop")], kinds
    by_key_faults = _faults_by_key(proxy)
    for tid, t in first_run.items():
        if t.key in lose:
            continue
        assert t.retries == by_key_faults[t.key], (ids[tid], t.retries, by_key_faults[t.key])
    total = sum(t.retries for t in first_run.values())
    print(f"\nsoak: {len(files)} uploads, {sum(SIZES) / MiB:.0f} MiB, faults {dict(kinds)}, "
          f"retries reported {total}")


def _faults_by_key(proxy: FaultProxy) -> Counter[str]:
    """Part/PutObject faults per object key, from the proxy's own record."""
    counts: Counter[str] = Counter()
    for op, key, action in proxy.injected_keys:
        if op in ("UploadPart", "PutObject") and action in PART_FAULTS:
            counts[key] += 1
    return counts
