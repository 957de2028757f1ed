"""Pause, resume, cancel, failure and restore, against moto over HTTP."""

from __future__ import annotations

import time
from pathlib import Path

from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.states import CANCELLED, DONE, FAILED, PAUSED
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.functional.test_engine_upload import wait_state


def snap_of(engine, tid):
    snap = engine.current_snapshot().by_id(tid)
    assert snap is not None
    return snap


def no_part_in_flight(engine, tid) -> bool:
    return all(p.state != "uploading" for p in snap_of(engine, tid).parts)


def test_pause_interrupts_promptly_and_resume_continues(qtbot, engine_factory, s3, bucket,
                                                        endpoint, tmp_path: Path) -> None:
    src = make_file(tmp_path / "big.bin", 30 * MiB + 7, seed=1)
    engine = engine_factory(concurrency=2, bandwidth_limit=6 * MiB)
    tid = engine.add(UploadRequest(str(src), bucket, "big.bin", endpoint))
    qtbot.waitUntil(lambda: snap_of(engine, tid).parts_done >= 1, timeout=30000)
    upload_id = snap_of(engine, tid).upload_id
    assert upload_id

    started = time.monotonic()
    engine.pause([tid])
    assert snap_of(engine, tid).state == PAUSED
    qtbot.waitUntil(lambda: no_part_in_flight(engine, tid), timeout=3000)
    assert time.monotonic() - started < 2.0  # in-flight parts were interrupted, not finished
    done_at_pause = snap_of(engine, tid).parts_done
    server_parts = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)["Parts"]
    assert len(server_parts) >= done_at_pause >= 1

    engine.set_bandwidth_limit(0)
    engine.resume([tid])
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == DONE
    snap = snap_of(engine, tid)
    assert snap.upload_id == upload_id  # the same upload went on
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == src.read_bytes()
    # Finished parts were not sent again: at most the two interrupted ones were.
    assert snap.wire_bytes <= src.stat().st_size + 2 * 5 * MiB


def test_cancel_aborts_and_leaves_no_orphan(qtbot, engine_factory, s3, bucket, endpoint,
                                            tmp_path: Path) -> None:
    src = make_file(tmp_path / "c.bin", 25 * MiB, seed=2)
    engine = engine_factory(concurrency=2, bandwidth_limit=8 * MiB)
    tid = engine.add(UploadRequest(str(src), bucket, "c.bin", endpoint))
    qtbot.waitUntil(lambda: snap_of(engine, tid).parts_done >= 1, timeout=30000)
    with qtbot.waitSignal(engine.state_changed, timeout=15000,
                          check_params_cb=lambda i, s: i == tid and s == CANCELLED):
        engine.cancel([tid])
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert engine.journal.get(tid).state == CANCELLED
    assert engine.journal.parts(tid) == {}



def test_retry_of_a_cancelled_transfer_starts_it_over(qtbot, engine_factory, s3, bucket,
                                                      endpoint, tmp_path: Path) -> None:
    src = make_file(tmp_path / "again.bin", 6 * MiB, seed=12)
    engine = engine_factory()
    engine.pause_all()
    tid = engine.add(UploadRequest(str(src), bucket, "again.bin", endpoint))
    engine.pause([tid])
    engine.cancel([tid])
    assert wait_state(qtbot, engine, tid, {CANCELLED}) == CANCELLED
    [new_id] = engine.retry([tid])  # Retry: the cancelled one starts over, as a new transfer
    assert new_id != tid and engine.state_of(tid) is None
    assert wait_state(qtbot, engine, new_id, {DONE, FAILED}) == DONE
    assert s3.get_object(Bucket=bucket, Key="again.bin")["Body"].read() == src.read_bytes()
    gone = make_file(tmp_path / "gone.bin", 6 * MiB, seed=13)
    other = engine.add(UploadRequest(str(gone), bucket, "gone.bin", endpoint))
    engine.pause([other])
    engine.cancel([other])
    assert wait_state(qtbot, engine, other, {CANCELLED}) == CANCELLED
    gone.unlink()  # the file is gone: starting over is refused, saying why
    refused: list[str] = []
    assert engine.retry([other], refused) == []
    assert len(refused) == 1 and "gone.bin cannot start over" in refused[0]

def test_cancel_of_queued_transfer_needs_no_server(qtbot, engine_factory, bucket, endpoint,
                                                   tmp_path: Path) -> None:
    src = make_file(tmp_path / "q.bin", 6 * MiB, seed=3)
    engine = engine_factory()
    engine.pause_all()
    tid = engine.add(UploadRequest(str(src), bucket, "q.bin", endpoint))
    engine.pause([tid])
    engine.cancel([tid])
    assert wait_state(qtbot, engine, tid, {CANCELLED}) == CANCELLED


def test_failure_keeps_upload_then_resume_completes(qtbot, engine_factory, s3, bucket,
                                                    endpoint, tmp_path: Path) -> None:
    """No overwrite + an existing object: the transfer fails at Complete, the
    upload stays on the server; once the object is gone, resume completes."""
    src = make_file(tmp_path / "n.bin", 11 * MiB, seed=4)
    s3.put_object(Bucket=bucket, Key="n.bin", Body=b"already here")
    engine = engine_factory()
    tid = engine.add(UploadRequest(str(src), bucket, "n.bin", endpoint, no_overwrite=True))
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == FAILED
    assert "already exists" in snap_of(engine, tid).detail
    s3.delete_object(Bucket=bucket, Key="n.bin")
    engine.resume([tid])
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == DONE
    assert s3.get_object(Bucket=bucket, Key="n.bin")["Body"].read() == src.read_bytes()


def test_no_overwrite_refused_at_complete_keeps_upload(qtbot, engine_factory, s3, bucket,
                                                       endpoint, tmp_path: Path) -> None:
    """The object appears while parts upload: If-None-Match on Complete
    refuses (412) and the transfer fails resumable, the upload kept."""
    src = make_file(tmp_path / "r.bin", 11 * MiB, seed=5)
    engine = engine_factory(bandwidth_limit=10 * MiB)
    tid = engine.add(UploadRequest(str(src), bucket, "r.bin", endpoint, no_overwrite=True))
    qtbot.waitUntil(lambda: snap_of(engine, tid).upload_id is not None, timeout=10000)
    s3.put_object(Bucket=bucket, Key="r.bin", Body=b"racing writer")
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == FAILED
    assert "already exists" in snap_of(engine, tid).detail
    assert s3.get_object(Bucket=bucket, Key="r.bin")["Body"].read() == b"racing writer"
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [snap_of(engine, tid).upload_id]


def test_missing_secret_fails_then_resumes_after_it_is_stored(qtbot, engine_factory, s3, bucket,
                                                              moto_url, tmp_path: Path) -> None:
    store = AccountStore()
    account = Account("lab", kind=KEYS, access_key_id="AKIDLAB", endpoint_url=moto_url,
                      region="us-east-1")
    store.save(account)  # no secret yet
    src = make_file(tmp_path / "s.bin", 6 * MiB, seed=6)
    engine = engine_factory()
    tid = engine.add(UploadRequest(str(src), bucket, "s.bin", account.endpoint()))
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == FAILED
    assert "not in the keyring" in snap_of(engine, tid).detail
    store.save(account, secret="lab-secret")
    engine.retry([tid])
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == DONE


def test_changed_source_is_refused_on_resume(qtbot, engine_factory, bucket, endpoint,
                                             tmp_path: Path) -> None:
    src = make_file(tmp_path / "m.bin", 16 * MiB, seed=7)
    engine = engine_factory(bandwidth_limit=8 * MiB)
    tid = engine.add(UploadRequest(str(src), bucket, "m.bin", endpoint))
    qtbot.waitUntil(lambda: snap_of(engine, tid).parts_done >= 1, timeout=30000)
    engine.pause([tid])
    qtbot.waitUntil(lambda: no_part_in_flight(engine, tid), timeout=3000)
    with open(src, "r+b") as f:
        f.seek(100)
        f.write(b"changed")
    engine.resume([tid])
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == FAILED
    assert "modified" in snap_of(engine, tid).detail


def test_restore_brings_back_unfinished_transfers_paused(qtbot, engine_factory, s3, bucket,
                                                         endpoint, journal, tmp_path: Path) -> None:
    src = make_file(tmp_path / "p.bin", 21 * MiB, seed=8)
    first = engine_factory(bandwidth_limit=8 * MiB, concurrency=2)
    tid = first.add(UploadRequest(str(src), bucket, "p.bin", endpoint))
    qtbot.waitUntil(lambda: snap_of(first, tid).parts_done >= 2, timeout=30000)
    first.shutdown()  # as the app closing mid-upload: journal state kept

    second = engine_factory()
    assert second.restore() == [tid]
    assert snap_of(second, tid).state == PAUSED
    assert snap_of(second, tid).parts_done >= 2
    second.resume([tid])
    assert wait_state(qtbot, second, tid, {DONE, FAILED}) == DONE
    assert s3.get_object(Bucket=bucket, Key="p.bin")["Body"].read() == src.read_bytes()


def test_a_tapered_upload_resumes_into_the_same_cut(qtbot, engine_factory, s3, bucket,
                                                     endpoint, journal, tmp_path: Path) -> None:
    """The final parts shrink (core/s3/plan.py); after a restart the journal's
    taper rebuilds that cut, so the parts already sent are kept."""
    src = make_file(tmp_path / "t.bin", 23 * MiB + 5, seed=9)
    first = engine_factory(part_size=8 * MiB, bandwidth_limit=8 * MiB, concurrency=2)
    tid = first.add(UploadRequest(str(src), bucket, "t.bin", endpoint))
    qtbot.waitUntil(lambda: snap_of(first, tid).parts_done >= 2, timeout=30000)
    first.shutdown()
    rec = journal.get(tid)
    assert rec.taper and rec.part_size == 8 * MiB
    sizes = [5 * MiB] * 4 + [3 * MiB + 5]  # equal parts would be 8, 8, 7 MiB
    assert [p.size for p in rec.plan().parts()] == sizes

    second = engine_factory(part_size=8 * MiB)
    second.restore([tid])
    kept = snap_of(second, tid).parts_done
    assert kept >= 2
    second.resume([tid])
    assert wait_state(qtbot, second, tid, {DONE, FAILED}) == DONE
    assert s3.get_object(Bucket=bucket, Key="t.bin")["Body"].read() == src.read_bytes()
    assert [p.size for p in snap_of(second, tid).parts] == sizes
    assert snap_of(second, tid).part_sizes == "5.0 MiB"  # what the window shows: no 8 MiB part
    # the kept parts were not sent again
    assert snap_of(second, tid).wire_bytes <= src.stat().st_size - kept * 5 * MiB


def test_an_account_that_needs_equal_parts_gets_them(qtbot, engine_factory, s3, bucket,
                                                     endpoint, tmp_path: Path) -> None:
    src = make_file(tmp_path / "e.bin", 23 * MiB + 5, seed=10)
    engine = engine_factory(part_size=8 * MiB)
    tid = engine.add(UploadRequest(str(src), bucket, "e.bin", endpoint.with_(equal_parts=True)))
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}) == DONE
    assert [p.size for p in snap_of(engine, tid).parts] == [8 * MiB, 8 * MiB, 7 * MiB + 5]
    assert s3.get_object(Bucket=bucket, Key="e.bin")["Body"].read() == src.read_bytes()


def test_queue_order_and_shared_limit(qtbot, engine_factory, bucket, endpoint,
                                      tmp_path: Path) -> None:
    """The first transfer's parts take every slot before the second starts."""
    a = make_file(tmp_path / "a.bin", 20 * MiB, seed=9)
    b = make_file(tmp_path / "b.bin", 20 * MiB, seed=10)
    engine = engine_factory(concurrency=2, bandwidth_limit=20 * MiB)
    ta = engine.add(UploadRequest(str(a), bucket, "a.bin", endpoint))
    tb = engine.add(UploadRequest(str(b), bucket, "b.bin", endpoint))
    seen_overlap = []

    def check(snap) -> None:
        sa, sb = snap.by_id(ta), snap.by_id(tb)
        uploading = sum(p.state == "uploading" for t in (sa, sb) for p in t.parts)
        assert uploading <= 2
        # (A part of `a` waiting out a retry's backoff rightly lends its slot.)
        if sb.done_bytes and sa.parts_total - sa.parts_done > 2 and not sa.retries:
            seen_overlap.append(snap)

    engine.snapshot.connect(check)
    assert wait_state(qtbot, engine, tb, {DONE, FAILED}) == DONE
    # `a` took its slots first, but its complete call may still be in flight when `b`'s
    # returns on a busy machine: order of parts is the claim, not order of completion.
    assert wait_state(qtbot, engine, ta, {DONE, FAILED}) == DONE
    assert not seen_overlap


def test_bandwidth_limit_changes_while_running(qtbot, engine_factory, bucket, endpoint,
                                               tmp_path: Path) -> None:
    src = make_file(tmp_path / "bw.bin", 15 * MiB, seed=11)
    engine = engine_factory(bandwidth_limit=2 * MiB)
    tid = engine.add(UploadRequest(str(src), bucket, "bw.bin", endpoint))
    qtbot.waitUntil(lambda: snap_of(engine, tid).done_bytes > MiB, timeout=10000)
    t0, b0 = time.monotonic(), snap_of(engine, tid).done_bytes
    qtbot.waitUntil(lambda: time.monotonic() - t0 > 1.5, timeout=5000)
    slow_rate = (snap_of(engine, tid).done_bytes - b0) / (time.monotonic() - t0)
    assert slow_rate < 3.5 * MiB  # 2 MiB/s with a quarter-second burst allowed
    engine.set_bandwidth_limit(0)
    assert wait_state(qtbot, engine, tid, {DONE, FAILED}, timeout=30000) == DONE


def test_idle_queue_publishes_nothing_until_something_changes(qtbot, engine_factory, bucket,
                                                             endpoint, tmp_path: Path) -> None:
    """A tick costs what changed: an idle queue publishes nothing, and a
    removal publishes just that id."""
    engine = engine_factory()
    ids = [engine.add(UploadRequest(str(make_file(tmp_path / f"i{n}", 10, seed=n)), bucket,
                                    f"i{n}", endpoint)) for n in range(3)]
    for tid in ids:
        wait_state(qtbot, engine, tid, {DONE})
    engine.current_snapshot()
    qtbot.wait(250)  # let the last changes go out
    published: list = []
    engine.snapshot.connect(published.append)
    qtbot.wait(350)  # a few ticks of an idle queue
    assert published == []
    engine.remove([ids[0]])
    qtbot.waitUntil(lambda: bool(published), timeout=5000)
    (snap,) = published
    assert snap.removed == (ids[0],) and snap.changed == ()
    assert [e.state for e in snap.events] == ["removed"]
    assert list(snap.table) == ids[1:] and snap.done == 2
