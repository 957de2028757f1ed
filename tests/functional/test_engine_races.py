"""The transition function against the worker still finishing a request
(the fault proxy holds it): a pause during a held Create stays paused, also
after a restart with auto-resume on; a cancel during a held Complete ends in
exactly one of done or cancelled, and says which."""

from __future__ import annotations

from pathlib import Path

from mpugui.core.journal.store import Journal
from mpugui.core.states import CANCELLED, DONE, PAUSED
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy
from tests.functional.test_faults import engines, proxy, via  # noqa: F401 (fixtures)


def _states(engine) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    engine.state_changed.connect(lambda i, s: seen.append((i, s)))
    return seen


def _journaled(journal: Journal, tid: int):
    journal.flush()
    return next(r for r in journal.transfers() if r.id == tid)


def test_pause_during_a_held_create_stays_paused_after_restart_with_auto_resume(
        qtbot, engines, proxy: FaultProxy, journal: Journal, bucket: str,  # noqa: F811
        tmp_path: Path) -> None:
    src = make_file(tmp_path / "p.bin", 12 * MiB, seed=41)
    hold = proxy.add(Fault("CreateMultipartUpload", "hold", phase="after"))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "p.bin", via(proxy)))
    qtbot.waitUntil(hold.held.is_set, timeout=30000)  # the Create is held
    engine.pause([tid])
    hold.release.set()  # the server created the upload; the worker finishes its job
    qtbot.waitUntil(lambda: _journaled(journal, tid).upload_id is not None, timeout=30000)
    assert engine.shutdown()  # the Create job has ended: the worker's last word is said
    assert engine.state_of(tid) == PAUSED
    assert _journaled(journal, tid).state == PAUSED

    again = engines()
    assert again.restore(auto_resume=True) == [tid]
    assert again.state_of(tid) == PAUSED  # not queued: the pause stands
    assert not again.busy()
    assert proxy.count("UploadPart", None) == 0  # nothing was sent after the pause


def test_cancel_during_a_held_complete_that_lands_ends_done_and_says_so(
        qtbot, engines, proxy: FaultProxy, journal: Journal, s3, bucket: str,  # noqa: F811
        tmp_path: Path) -> None:
    src = make_file(tmp_path / "d.bin", 12 * MiB, seed=42)
    hold = proxy.add(Fault("CompleteMultipartUpload", "hold", phase="after"))
    engine = engines(read_timeout=60)
    said: list[str] = []
    events = _states(engine)
    engine.message.connect(lambda _level, text: said.append(text))
    tid = engine.add(UploadRequest(str(src), bucket, "d.bin", via(proxy)))
    qtbot.waitUntil(hold.held.is_set, timeout=60000)  # the server has completed
    engine.cancel([tid])
    hold.release.set()  # the answer is lost; the retried Complete finds it done
    qtbot.waitUntil(lambda: engine.state_of(tid) in (DONE, CANCELLED) and not engine.busy(),
                    timeout=60000)
    assert engine.state_of(tid) == DONE
    qtbot.waitUntil(lambda: (tid, DONE) in events)
    assert (tid, CANCELLED) not in events
    assert _journaled(journal, tid).state == DONE
    assert s3.get_object(Bucket=bucket, Key="d.bin")["Body"].read() == src.read_bytes()
    # said from the worker's thread: delivered by the event loop
    qtbot.waitUntil(lambda: any("before the cancel reached it; it stays uploaded" in t
                                for t in said), timeout=10000)
    assert not [t for t in said if t.startswith("Cancelled")]


def test_cancel_during_a_held_complete_that_fails_ends_cancelled_and_says_so(
        qtbot, engines, proxy: FaultProxy, journal: Journal, s3, bucket: str,  # noqa: F811
        tmp_path: Path) -> None:
    src = make_file(tmp_path / "c.bin", 12 * MiB, seed=43)
    hold = proxy.add(Fault("CompleteMultipartUpload", "hold"))
    proxy.add(Fault("CompleteMultipartUpload", "error", status=403, code="AccessDenied",
                    times=None))
    engine = engines(read_timeout=60)
    said: list[str] = []
    events = _states(engine)
    engine.message.connect(lambda _level, text: said.append(text))
    tid = engine.add(UploadRequest(str(src), bucket, "c.bin", via(proxy)))
    qtbot.waitUntil(hold.held.is_set, timeout=60000)  # not forwarded
    engine.cancel([tid])
    hold.release.set()  # the connection closes; the retried Complete is refused
    qtbot.waitUntil(lambda: engine.state_of(tid) in (DONE, CANCELLED) and not engine.busy(),
                    timeout=60000)
    assert engine.state_of(tid) == CANCELLED
    qtbot.waitUntil(lambda: (tid, CANCELLED) in events)
    states = [s for i, s in events if i == tid]
    assert states[states.index("assembling"):] == ["assembling", CANCELLED]  # no failure shown
    assert _journaled(journal, tid).state == CANCELLED
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    qtbot.waitUntil(lambda: any(t.startswith("Cancelled s3://") for t in said), timeout=10000)
    assert not [t for t in said if "stays uploaded" in t]


def test_restart_after_a_cancel_changes_the_queue_on_the_engines_thread(
        qtbot, engines, proxy: FaultProxy, journal: Journal, s3, bucket: str,  # noqa: F811
        tmp_path: Path) -> None:
    import threading

    src = make_file(tmp_path / "r.bin", 12 * MiB, seed=44)
    hold = proxy.add(Fault("UploadPart", "hold", part=2))
    engine = engines()
    added_on: list[threading.Thread] = []
    add = engine.add

    def watched_add(*args, **kwargs):  # observes the thread; the real add runs
        added_on.append(threading.current_thread())
        return add(*args, **kwargs)

    engine.add = watched_add
    tid = add(UploadRequest(str(src), bucket, "r.bin", via(proxy)))
    qtbot.waitUntil(hold.held.is_set, timeout=30000)  # an upload id, a part in flight
    engine.cancel([tid], restart=True)  # the abort runs on a worker thread
    hold.release.set()
    qtbot.waitUntil(lambda: not engine.has(tid) and len(engine.transfer_ids()) == 1,
                    timeout=60000)
    (new,) = engine.transfer_ids()
    qtbot.waitUntil(lambda: engine.state_of(new) == DONE, timeout=60000)
    assert added_on == [threading.main_thread()]  # not the worker that finished the abort
    assert s3.get_object(Bucket=bucket, Key="r.bin")["Body"].read() == src.read_bytes()
    assert [r.state for r in (journal.flush() or journal.transfers())] == [DONE]
