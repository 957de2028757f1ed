"""Outages through the fault proxy: the network goes away (connections
refused, or a frozen link that accepts and never answers) and comes back.
Transfers wait, one probe per endpoint backs off, and everything finishes by
itself, byte-identical, with no orphan. Short backoffs, no sleeps: each step
waits for the state it needs."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.s3 import endpoint as endpoint_mod
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import CANCELLED, DONE, FAILED, PAUSED, WAITING
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.clirun import json_lines, run_cli, start_cli, transfers
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy, wait_for

READ_TIMEOUT = 2.0
FAST_PROBES = {"probe_first": 0.05, "probe_cap": 0.2}


@pytest.fixture(autouse=True)
def fewer_botocore_attempts(monkeypatch) -> None:
    # Two botocore attempts instead of the product's five, only to keep the
    # tests short; what happens after botocore gives up is what is tested.
    real = endpoint_mod.client_config
    monkeypatch.setattr(endpoint_mod, "client_config", lambda *a, **k: real(*a, **k).merge(
        endpoint_mod.Config(retries={"mode": "standard", "total_max_attempts": 2})))


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


@pytest.fixture
def engines(proxy, engine_factory):
    return functools.partial(engine_factory, read_timeout=READ_TIMEOUT, **FAST_PROBES)


def via(proxy: FaultProxy) -> Endpoint:
    return Endpoint(endpoint_url=proxy.url, region="us-east-1")


def states(engine) -> dict[int, str]:
    return {tid: s.state for tid, s in engine.current_snapshot().table.items()}


def wait_all(qtbot, engine, wanted: set[str], timeout: int = 60000) -> dict[int, str]:
    qtbot.waitUntil(lambda: set(states(engine).values()) <= wanted and not engine.busy()
                    if wanted & {DONE, FAILED, CANCELLED} else
                    set(states(engine).values()) <= wanted, timeout=timeout)
    return states(engine)


def hold(proxy: FaultProxy, op: str, **kw) -> Fault:
    return proxy.add(Fault(op, "hold", phase="before", **kw))


def outage_with_holds(qtbot, proxy: FaultProxy, *faults: Fault) -> None:
    """Requests are held at the proxy (a known point mid-upload); then the
    network goes: connections refused, the held ones reset."""
    for f in faults:
        qtbot.waitUntil(f.held.is_set, timeout=30000)
    proxy.refuse()
    for f in faults:
        f.release.set()


def test_refused_outage_mid_upload_resumes_everything_by_itself(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    big = make_file(tmp_path / "big.bin", 23 * MiB + 7, seed=1)
    small = [make_file(tmp_path / "dir" / f"f{i:02}.bin", 1000 + 997 * i, seed=100 + i)
             for i in range(30)]
    part_hold = hold(proxy, "UploadPart", part=3)
    put_hold = hold(proxy, "PutObject", skip=4)
    engine = engines(put_concurrency=2)
    ep = via(proxy)
    ids = [engine.add(UploadRequest(str(big), bucket, "big.bin", ep))]
    ids += [engine.add(UploadRequest(str(f), bucket, f"dir/{f.name}", ep)) for f in small]
    # The parts around the held one are done before the network goes.
    qtbot.waitUntil(lambda: engine.current_snapshot().by_id(ids[0]).parts_done >= 2,
                    timeout=30000)
    done_before = engine.current_snapshot().by_id(ids[0]).parts_done
    outage_with_holds(qtbot, proxy, part_hold, put_hold)

    # Waiting, visibly, with the reason; nothing failed; the probes back off.
    qtbot.waitUntil(lambda: states(engine)[ids[0]] == WAITING and engine.probes_sent >= 3,
                    timeout=30000)
    snap = engine.current_snapshot()
    assert FAILED not in set(states(engine).values())
    assert snap.by_id(ids[0]).upload_id  # the upload id and finished parts are kept
    assert snap.by_id(ids[0]).parts_done >= done_before
    (down,) = snap.outages
    assert down.endpoint == proxy.url and down.waiting >= 2
    assert "Waiting for the network" in down.sentence()
    engine.journal.flush()
    assert engine.journal.get(ids[0]).state == WAITING  # journaled as such
    parts_before = proxy.count("UploadPart")

    proxy.accept()  # the network is back
    final = wait_all(qtbot, engine, {DONE})
    assert set(final.values()) == {DONE}
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big.read_bytes()
    for f in small:
        assert s3.get_object(Bucket=bucket, Key=f"dir/{f.name}")["Body"].read() == \
            f.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # ONE probe for the endpoint reached the server when it came back, not
    # one per waiting transfer (31 of them); the failed ones were refused.
    assert proxy.count("HeadBucket", status=None) == 1
    # Re-sent at most what was in flight: the parts done before stayed done.
    parts_total = engine.current_snapshot().by_id(ids[0]).parts_total
    assert proxy.count("UploadPart") - parts_before <= parts_total - done_before
    assert engine.current_snapshot().outages == ()


def test_outage_at_the_start_then_pause_resume_and_cancel_while_waiting(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    proxy.refuse()
    a = make_file(tmp_path / "a.bin", 12 * MiB, seed=2)
    b = make_file(tmp_path / "b.bin", 3000, seed=3)
    engine = engines()
    ta = engine.add(UploadRequest(str(a), bucket, "a.bin", via(proxy)))
    tb = engine.add(UploadRequest(str(b), bucket, "b.bin", via(proxy)))
    wait_all(qtbot, engine, {WAITING})
    engine.pause([ta])
    assert states(engine)[ta] == PAUSED
    engine.cancel([tb])  # nothing of it reached the server: cancelled at once
    qtbot.waitUntil(lambda: states(engine)[tb] == CANCELLED)
    engine.resume([ta])
    qtbot.waitUntil(lambda: states(engine)[ta] == WAITING, timeout=30000)
    probes = engine.probes_sent
    engine.resume([ta])  # "Retry now": probes at once, still down
    qtbot.waitUntil(lambda: engine.probes_sent > probes, timeout=30000)
    proxy.accept()
    qtbot.waitUntil(lambda: states(engine)[ta] == DONE and not engine.busy(), timeout=60000)
    assert s3.get_object(Bucket=bucket, Key="a.bin")["Body"].read() == a.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="b.bin")


def test_a_folder_queued_while_refused_all_waits_then_all_finishes(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    """More small files than go out at once (48): the first batch is refused
    together, the rest wait without trying; then everything finishes."""
    proxy.refuse()
    files = [make_file(tmp_path / "q" / f"{i:03}", 100 + i, seed=i) for i in range(150)]
    engine = engines()
    ep = via(proxy)
    _ids, problems = engine.add_many([UploadRequest(str(f), bucket, f"q/{f.name}", ep)
                                      for f in files])
    assert not problems
    qtbot.waitUntil(lambda: set(states(engine).values()) == {WAITING}, timeout=30000)
    proxy.accept()
    assert set(wait_all(qtbot, engine, {DONE, FAILED}).values()) == {DONE}
    for f in files[::10]:
        assert s3.get_object(Bucket=bucket, Key=f"q/{f.name}")["Body"].read() == f.read_bytes()


def test_a_non_transient_error_fails_at_once_without_probing(
        qtbot, engines, proxy, bucket, tmp_path: Path) -> None:
    src = make_file(tmp_path / "d.bin", 11 * MiB, seed=4)
    proxy.add(Fault("UploadPart", "error", status=403, code="AccessDenied", times=None))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "d.bin", via(proxy)))
    assert wait_all(qtbot, engine, {DONE, FAILED})[tid] == FAILED
    assert "Access denied" in engine.current_snapshot().by_id(tid).detail
    assert engine.probes_sent == 0


def test_bucket_deleted_during_the_outage_fails_with_its_sentence(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    src = make_file(tmp_path / "e.bin", 3000, seed=5)
    proxy.refuse()
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "e.bin", via(proxy)))
    wait_all(qtbot, engine, {WAITING})
    s3.delete_bucket(Bucket=bucket)
    proxy.accept()
    assert wait_all(qtbot, engine, {DONE, FAILED})[tid] == FAILED
    assert engine.current_snapshot().by_id(tid).detail == f"The bucket '{bucket}' does not exist."
    # The probe was answered and no request succeeded since (the transfer
    # failed for good): the outage is closed all the same, holding nothing.
    assert not engine._outages and engine.current_snapshot().outages == ()


def test_max_wait_gives_up_resumable_then_resume_completes(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    src = make_file(tmp_path / "m.bin", 16 * MiB + 3, seed=6)
    part_hold = hold(proxy, "UploadPart", part=2)
    engine = engines(max_wait=0.5)
    tid = engine.add(UploadRequest(str(src), bucket, "m.bin", via(proxy)))
    outage_with_holds(qtbot, proxy, part_hold)
    assert wait_all(qtbot, engine, {DONE, FAILED})[tid] == FAILED
    snap = engine.current_snapshot().by_id(tid)
    assert "Gave up after waiting" in snap.detail and snap.upload_id
    proxy.accept()
    engine.resume([tid])
    assert wait_all(qtbot, engine, {DONE, FAILED})[tid] == DONE
    assert s3.get_object(Bucket=bucket, Key="m.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_blackholed_link_mid_upload_resends_only_what_was_in_flight(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    src = make_file(tmp_path / "h.bin", 26 * MiB + 11, seed=7)
    part_hold = hold(proxy, "UploadPart", part=3)
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "h.bin", via(proxy)))
    qtbot.waitUntil(part_hold.held.is_set, timeout=30000)
    proxy.blackhole()  # the link freezes: requests hang, unanswered
    part_hold.release.set()
    qtbot.waitUntil(lambda: states(engine)[tid] == WAITING and engine.probes_sent >= 2,
                    timeout=60000)
    proxy.unblackhole()
    assert wait_all(qtbot, engine, {DONE, FAILED})[tid] == DONE
    assert s3.get_object(Bucket=bucket, Key="h.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Parts stored twice at most: those in flight when the link froze (4).
    stored_again = proxy.body_bytes() - src.stat().st_size
    assert stored_again <= 4 * 5 * MiB


@pytest.mark.parametrize("phase", ["before", "after"])
def test_outage_during_complete(qtbot, engine_factory, moto_url, s3, bucket, tmp_path: Path,
                                phase: str) -> None:
    """Refused while Complete is on the wire: before the server acts, or after
    it completed the object and its answer was lost (then, as on S3, the
    upload id is gone: NoSuchUpload, and the object is checked with HEAD)."""
    src = make_file(tmp_path / "z.bin", 12 * MiB + 1, seed=11)
    with FaultProxy(moto_url, forget_completed=True) as proxy:
        complete = hold(proxy, "CompleteMultipartUpload")
        complete.phase = phase
        engine = engine_factory(read_timeout=READ_TIMEOUT, **FAST_PROBES)
        tid = engine.add(UploadRequest(str(src), bucket, "z.bin", via(proxy)))
        outage_with_holds(qtbot, proxy, complete)
        qtbot.waitUntil(lambda: states(engine)[tid] == WAITING, timeout=30000)
        proxy.accept()
        assert wait_all(qtbot, engine, {DONE, FAILED})[tid] == DONE, \
            engine.current_snapshot().by_id(tid).detail
        engine.shutdown()
    assert s3.get_object(Bucket=bucket, Key="z.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_cancel_while_waiting_is_sent_when_the_endpoint_answers(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    src = make_file(tmp_path / "k.bin", 16 * MiB, seed=12)
    part_hold = hold(proxy, "UploadPart", part=2)
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "k.bin", via(proxy)))
    outage_with_holds(qtbot, proxy, part_hold)
    qtbot.waitUntil(lambda: states(engine)[tid] == WAITING, timeout=30000)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # parts on the server
    engine.cancel([tid])  # the abort cannot reach the server yet: it waits too
    # The abort was tried, could not be sent, and waits with the upload.
    qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).detail == "cancelling…"
                    and not engine._by_id[tid].aborting, timeout=30000)
    probes = engine.probes_sent
    qtbot.waitUntil(lambda: engine.probes_sent >= probes + 2, timeout=30000)
    assert states(engine)[tid] == WAITING
    proxy.accept()
    qtbot.waitUntil(lambda: states(engine)[tid] == CANCELLED and not engine.busy(),
                    timeout=60000)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="k.bin")


def test_a_transfer_journaled_waiting_comes_back_paused_and_resumes(
        qtbot, engines, proxy, s3, bucket, tmp_path: Path) -> None:
    """The app stops (or crashes) during an outage: the journal says waiting;
    the next start restores it paused, with its upload, and resume completes."""
    src = make_file(tmp_path / "r.bin", 16 * MiB + 9, seed=13)
    part_hold = hold(proxy, "UploadPart", part=2)
    first = engines()
    tid = first.add(UploadRequest(str(src), bucket, "r.bin", via(proxy)))
    outage_with_holds(qtbot, proxy, part_hold)
    qtbot.waitUntil(lambda: states(first)[tid] == WAITING, timeout=30000)
    upload_id = first.current_snapshot().by_id(tid).upload_id
    first.shutdown()
    first.journal.flush()
    assert first.journal.get(tid).state == WAITING
    proxy.accept()
    second = engines()
    assert second.restore() == [tid]
    assert states(second)[tid] == PAUSED
    second.resume([tid])
    assert wait_all(qtbot, second, {DONE, FAILED})[tid] == DONE
    assert second.current_snapshot().by_id(tid).upload_id == upload_id
    assert s3.get_object(Bucket=bucket, Key="r.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# -- the command line -------------------------------------------------------------


def test_cli_waits_out_an_outage_says_so_and_exits_0(s3, bucket, proxy, tmp_path: Path) -> None:
    src = make_file(tmp_path / "c.bin", 17 * MiB + 5, seed=8)
    part_hold = hold(proxy, "UploadPart", part=2)
    proc = start_cli("upload", str(src), f"s3://{bucket}/c.bin", "--endpoint-url", proxy.url,
                     "--part-size", "5MiB", "--concurrency", "2", "--json")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    wait_for(part_hold.held.is_set, 60, "part 2 at the proxy")
    proxy.refuse()
    part_hold.release.set()
    wait_for(lambda: any('"event": "waiting"' in line for line in lines), 120,
             "the waiting event")
    proxy.accept()
    try:
        code = proc.wait(timeout=120)
        reader.join(10)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    seen = [e["event"] for e in json_lines("".join(lines))]
    assert "resumed" in seen[seen.index("waiting"):]
    (waiting,) = [e for e in json_lines("".join(lines)) if e["event"] == "waiting"]
    assert "could not be reached" in waiting["reason"] and waiting["upload_id"]
    assert s3.get_object(Bucket=bucket, Key="c.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_cli_max_wait_gives_up_with_exit_1_then_resume_completes(
        s3, bucket, proxy, tmp_path: Path) -> None:
    src = make_file(tmp_path / "w.bin", 11 * MiB, seed=9)
    small = make_file(tmp_path / "w.txt", 500, seed=10)
    proxy.refuse()  # down from the start
    done = run_cli("upload", str(src), str(small), f"s3://{bucket}/", "--endpoint-url",
                   proxy.url, "--part-size", "5MiB", "--max-wait", "1s")
    assert done.returncode == 1, done.stderr
    # the waiting lines are progress (stdout); the failure's sentence is an error (stderr)
    assert "does not answer" in done.stdout and "Gave up after waiting" in done.stderr
    assert "answers again" not in done.stdout and "gave up   waiting for" in done.stdout
    assert {t["state"] for t in transfers()} == {"failed"}
    proxy.accept()
    resumed = run_cli("resume", "--all")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert s3.get_object(Bucket=bucket, Key="w.bin")["Body"].read() == src.read_bytes()
    assert s3.get_object(Bucket=bucket, Key="w.txt")["Body"].read() == small.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
