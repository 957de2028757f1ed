"""Folders of many files: the journal stays consistent, every file is
reported done exactly once, a stop during the walk loses nothing, and
skip-existing skips exactly the unchanged files.

The 20,000-file runs use the benchmark's S3-protocol sink (a real HTTP
server on 127.0.0.1 in this process; moto takes ~9 ms a request, which would
make them minutes long); 0-byte files cost nothing to make or send."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import DONE, PAUSED
from mpugui.core.transfer.feeder import Feeder, FeedRequest
from mpugui.engine.engine import TransferEngine, UploadRequest
from tests.bench.sink import SinkServer
from tests.clirun import json_lines, run_cli, start_cli, transfers
from tests.conftest import make_file

EXIT_OK, EXIT_INTERRUPTED = 0, 3


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer() as s:
        yield s


def empty_files(root: Path, n: int, per_folder: int = 1000) -> Path:
    for i in range(n):
        folder = root / f"d{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:06d}").touch()
    return root


def keys_at(sink: SinkServer, prefix: str) -> Counter[str]:
    return Counter(k for k in sink.objects if k.startswith(prefix))


def test_twenty_thousand_files_through_the_cli(sink: SinkServer, tmp_path: Path) -> None:
    n = 20_000
    src = empty_files(tmp_path / "src", n)
    done = run_cli("upload", str(src), "s3://bench/big/", "--endpoint-url", sink.url,
                   "--json", timeout=600)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    events = json_lines(done.stdout)
    states = Counter(e["state"] for e in events if e["event"] == "state")
    assert states["done"] == n and states["queued"] == n  # each state once per file
    finished = Counter(e["id"] for e in events if e["event"] == "state" and e["state"] == "done")
    assert set(finished.values()) == {1}
    # progress while the folder is still being added, not only once every
    # file was (at the tick rate: where it falls among the files is not fixed)
    last_queued = max(i for i, e in enumerate(events) if e.get("state") == "queued")
    assert any(e["event"] == "progress" for e in events[:last_queued])
    assert events[-1]["event"] == "summary" and events[-1]["states"] == {"done": n}
    rows = transfers()
    assert len(rows) == n and {r["state"] for r in rows} == {"done"}
    assert len(keys_at(sink, "bench/big/")) == n
    assert not sink.uploads  # no multipart upload left in progress


def test_plain_output_in_a_pipe_is_one_line_per_file(sink: SinkServer, tmp_path: Path) -> None:
    src = empty_files(tmp_path / "src", 3000)
    done = run_cli("upload", str(src), "s3://bench/p/", "--endpoint-url", sink.url,
                   timeout=300)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("done ")) == 3000
    assert lines[-1] == "Transfers: 3,000 done."


def test_sigterm_during_the_walk_then_resume_all(sink: SinkServer, tmp_path: Path) -> None:
    n = 20_000
    src = empty_files(tmp_path / "src", n)
    proc = start_cli("upload", str(src), "s3://bench/w/", "--endpoint-url", sink.url,
                     "--json")
    assert proc.stdout is not None
    for line in proc.stdout:  # the first file is done: the walk is still going
        if '"state": "done"' in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, err[-2000:]
    journaled = transfers()
    assert 0 < len(journaled) < n  # stopped mid-walk: the rest was never journaled
    assert {r["state"] for r in journaled} <= {"done", "paused"}
    assert "SIGTERM: pausing" in out

    resumed = run_cli("resume", "--all", "--json", timeout=600)
    assert resumed.returncode == EXIT_OK, resumed.stderr[-2000:]
    rows = transfers()
    assert len(rows) == n and {r["state"] for r in rows} == {"done"}
    assert len({r["destination"] for r in rows}) == n  # no file journaled twice
    assert len(keys_at(sink, "bench/w/")) == n
    again = run_cli("resume", "--all", "--json")
    assert again.returncode == EXIT_OK and "Nothing to do." in again.stdout


def test_engine_and_feeder_keep_the_journal_consistent(qtbot, journal: Journal,
                                                       sink: SinkServer,
                                                       tmp_path: Path) -> None:
    n = 20_000
    src = empty_files(tmp_path / "src", n)
    engine = TransferEngine(journal)
    try:
        seen: Counter[str] = Counter()
        engine.snapshot.connect(lambda s: seen.update(e.state for e in s.events))
        feeder = Feeder(engine, journal, FeedRequest(
            [str(src)], "bench", "e/", Endpoint(endpoint_url=sink.url))).start()
        qtbot.waitUntil(lambda: feeder.finished and not engine.busy(), timeout=600_000)
        engine.publish(everything=True)
        assert feeder.counts.added == n and feeder.error is None
        assert seen["done"] == n and seen["queued"] == n
        snap = engine.current_snapshot()
        assert snap.done == n and snap.total == n and snap.count(DONE) == n
    finally:
        engine.shutdown()
    journal.flush()
    assert Counter(r.state for r in journal.transfers()) == {DONE: n}
    assert journal.walks() == []  # the walk was finished and forgotten


def test_a_folder_of_small_files_shows_its_rate_and_idle_after(qtbot, journal: Journal,
                                                              sink: SinkServer,
                                                              tmp_path: Path) -> None:
    # Each small file goes up in one request (0 to 100%), so no transfer has
    # a speed of its own: the queue's rate comes from the bytes sent.
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5000):
        (src / f"f{i:05d}").write_bytes(os.urandom(16 * 1024))
    engine = TransferEngine(journal)
    try:
        published: list = []
        engine.snapshot.connect(published.append)
        feeder = Feeder(engine, journal, FeedRequest(
            [str(src)], "bench", "rate/", Endpoint(endpoint_url=sink.url))).start()
        qtbot.waitUntil(lambda: feeder.finished and not engine.busy(), timeout=300_000)
        moving = [s for s in published if s.speed > 0]
        assert moving, "no snapshot carried a rate"
        assert all(t.speed == 0 for s in moving for t in s.changed)  # the queue's, not a file's
        qtbot.waitUntil(lambda: engine.current_snapshot().speed == 0, timeout=5000)  # idle
    finally:
        engine.shutdown()


def test_pause_and_resume_all_on_thousands(qtbot, journal: Journal, sink: SinkServer,
                                           tmp_path: Path) -> None:
    n = 4000
    src = empty_files(tmp_path / "src", n)
    for f in src.rglob("f*"):  # a byte each: the bandwidth limit holds them in flight
        f.write_bytes(b"x")
    endpoint = Endpoint(endpoint_url=sink.url)
    engine = TransferEngine(journal)
    try:
        engine.set_bandwidth_limit(1)  # hold the first files in flight
        ids, problems = engine.add_many([
            UploadRequest(str(p), "bench", f"pr/{p.name}", endpoint)
            for p in sorted(src.rglob("f*"))])
        assert len(ids) == n and problems == []
        engine.pause_all()
        journal.flush()
        assert Counter(r.state for r in journal.transfers()) == {PAUSED: n}
        engine.set_bandwidth_limit(0)
        engine.resume_all()
        qtbot.waitUntil(lambda: not engine.busy(), timeout=300_000)
        # The live states: the snapshot table takes REFRESH_LIMIT changes a
        # tick, so right after the last file it may still be catching up.
        assert Counter(engine.states().values()) == {DONE: n}
        assert engine.remove_finished() == ids
    finally:
        engine.shutdown()
    assert journal.transfers() == []


def test_skip_existing_skips_exactly_the_unchanged_files(s3, bucket, moto_url,
                                                         tmp_path: Path) -> None:
    src = tmp_path / "photos"
    same = make_file(src / "same.jpg", 3000, seed=1)
    grows = make_file(src / "grows.jpg", 3000, seed=2)
    edited = make_file(src / "edited.jpg", 3000, seed=3)
    args = ["upload", str(src), f"s3://{bucket}/p/", "--endpoint-url", moto_url, "--json"]
    first = run_cli(*args)
    assert first.returncode == EXIT_OK, first.stderr

    again = run_cli(*args)  # nothing changed: nothing is sent
    assert again.returncode == EXIT_OK, again.stderr
    events = json_lines(again.stdout)
    assert not [e for e in events if e["event"] == "state"]
    assert events[-1]["event"] == "summary" and events[-1]["skipped"] == 3
    plain = run_cli(*args[:-1])
    assert "3 unchanged, skipped." in plain.stdout

    grows.write_bytes(grows.read_bytes() + b"more")  # another size
    st = edited.stat()
    edited.write_bytes(bytes(reversed(edited.read_bytes())))  # same size, same mtime
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    make_file(src / "new.jpg", 10, seed=4)
    third = run_cli(*args)
    assert third.returncode == EXIT_OK, third.stderr
    sent = {e["destination"] for e in json_lines(third.stdout)
            if e["event"] == "state" and e["state"] == "done"}
    assert sent == {f"s3://{bucket}/p/{n}"
                    for n in ("grows.jpg", "edited.jpg", "new.jpg")}
    assert s3.get_object(Bucket=bucket, Key="p/edited.jpg")["Body"].read() == \
        edited.read_bytes()
    assert s3.get_object(Bucket=bucket, Key="p/same.jpg")["Body"].read() == same.read_bytes()

    forced = run_cli(*args, "--no-skip-existing")
    assert forced.returncode == EXIT_OK
    assert sum(1 for e in json_lines(forced.stdout) if e.get("state") == "done") == 4
