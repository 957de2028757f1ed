"""The small-file sender process (core/s3/sender.py): what it sends arrives
whole, and nothing is lost when it cannot start, when it is killed in the
middle of a folder, or when its parent is killed (it ends too).

Real processes, real files, the benchmark's sink on 127.0.0.1 (it hashes
bodies with md5=True, so an ETag there is the MD5 of what arrived)."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.journal.store import Journal
from mpugui.core.s3 import putloop, sender, sender_spawn, smallput
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.putloop import PutLoop, PutRequest
from mpugui.core.s3.smallput import SmallPut
from mpugui.core.states import DONE
from mpugui.core.transfer.feeder import Feeder, FeedRequest
from mpugui.engine.engine import TransferEngine
from tests.bench.sink import SinkServer
from tests.clirun import start_cli


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer(md5=True) as s:
        yield s


def small_files(root: Path, n: int) -> dict[str, str]:
    """n files of 1-40 KiB of distinct bytes; their MD5s by name."""
    root.mkdir(parents=True)
    md5s = {}
    for i in range(n):
        data = os.urandom(1024 * (1 + i % 40))
        (root / f"f{i:05d}").write_bytes(data)
        md5s[f"f{i:05d}"] = hashlib.md5(data).hexdigest()
    return md5s


def upload_folder(qtbot, engine: TransferEngine, journal: Journal, src: Path, prefix: str,
                  url: str, during=None) -> Counter[str]:
    seen: Counter[str] = Counter()
    engine.snapshot.connect(lambda s: seen.update(e.state for e in s.events))
    feeder = Feeder(engine, journal, FeedRequest(
        [str(src)], "bench", prefix, Endpoint(endpoint_url=url))).start()
    if during is not None:
        during()
    qtbot.waitUntil(lambda: feeder.finished and not engine.busy(), timeout=300_000)
    engine.publish(everything=True)
    assert feeder.error is None
    return seen


def assert_arrived(sink: SinkServer, prefix: str, md5s: dict[str, str]) -> None:
    got = {k.rsplit("/", 1)[1]: o.etag.strip('"') for k, o in sink.objects.items()
           if k.startswith(f"bench/{prefix}")}
    assert got == md5s  # every file, whole, once


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_a_folder_arrives_whole_either_way(qtbot, journal: Journal, sink: SinkServer,
                                          tmp_path: Path, monkeypatch, mode: str) -> None:
    monkeypatch.setenv(sender_spawn.ENV, mode)
    md5s = small_files(tmp_path / "src", 600)
    engine = TransferEngine(journal)
    try:
        seen = upload_folder(qtbot, engine, journal, tmp_path / "src", "w/", sink.url)
        assert (engine._putloop.sender_pid is not None) == (mode == "process")
        assert engine.current_snapshot().live[DONE] == len(md5s)  # (as of now)
    finally:
        engine.shutdown()
    assert seen[DONE] == len(md5s)
    assert_arrived(sink, "w/", md5s)
    journal.flush()
    rows = journal.transfers()
    assert {r.state for r in rows} == {DONE} and all(r.sample for r in rows)


def test_a_sender_that_cannot_start_leaves_the_sending_here(qtbot, journal: Journal,
                                                           sink: SinkServer, tmp_path: Path,
                                                           monkeypatch, caplog) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    md5s = small_files(tmp_path / "src", 300)
    engine = TransferEngine(journal)
    try:
        seen = upload_folder(qtbot, engine, journal, tmp_path / "src", "n/", sink.url)
        assert engine._putloop.sender_pid is None
    finally:
        engine.shutdown()
    assert seen[DONE] == len(md5s)
    assert_arrived(sink, "n/", md5s)
    assert "sender could not start" in caplog.text


def test_a_sender_killed_mid_folder_loses_nothing(qtbot, journal: Journal, sink: SinkServer,
                                                  tmp_path: Path, caplog) -> None:
    md5s = small_files(tmp_path / "src", 3000)
    engine = TransferEngine(journal)
    killed: list[int] = []

    def kill_it_mid_way() -> None:
        qtbot.waitUntil(lambda: engine._putloop.sender_pid is not None and
                        len(sink.objects) >= 200, timeout=60_000)
        pid = engine._putloop.sender_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    try:
        seen = upload_folder(qtbot, engine, journal, tmp_path / "src", "k/", sink.url,
                             during=kill_it_mid_way)
        assert engine._putloop.sender_pid is None  # not started again
    finally:
        engine.shutdown()
    assert killed and len(sink.objects) >= 200
    assert seen[DONE] == len(md5s)  # each once: what it had went through botocore
    assert_arrived(sink, "k/", md5s)
    assert "sender ended" in caplog.text


def test_the_sender_started_with_the_command_is_the_one_used(qtbot, journal: Journal,
                                                            sink: SinkServer,
                                                            tmp_path: Path) -> None:
    """`mpugui upload DIR` starts the sender before its own imports
    (app.main -> sender_spawn.start_early); the engine adopts that one."""
    md5s = small_files(tmp_path / "src", 200)
    sender_spawn.start_early(["s3://bench/e/", str(tmp_path / "src")])
    spare = sender_spawn._spare
    assert spare is not None
    engine = TransferEngine(journal)
    try:
        seen = upload_folder(qtbot, engine, journal, tmp_path / "src", "e/", sink.url)
        assert engine._putloop.sender_pid == spare.pid  # adopted, not another one
        assert sender_spawn._spare is None
    finally:
        engine.shutdown()
    assert seen[DONE] == len(md5s)
    assert_arrived(sink, "e/", md5s)
    assert spare.poll() is not None  # reaped with the engine


def test_no_early_sender_without_small_files(tmp_path: Path, monkeypatch) -> None:
    assert sender_spawn.SMALL == smallput.MAX_SIZE  # what it sends is what it is started for
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(sender_spawn.SMALL + 1)
    (tmp_path / "small.bin").write_bytes(b"x")
    sender_spawn.start_early([str(big), "s3://bench/b/", "--no-such-option", "missing"])
    assert sender_spawn._spare is None  # one big file: botocore's parts, no sender
    monkeypatch.setenv(sender_spawn.ENV, "thread")
    sender_spawn.start_early([str(tmp_path / "small.bin")])
    assert sender_spawn._spare is None  # small files sent in-process, as asked
    monkeypatch.delenv(sender_spawn.ENV)
    sender_spawn.start_early([str(tmp_path / "small.bin")])
    spare = sender_spawn._spare
    assert spare is not None
    sender_spawn._end_spare()  # at exit, not taken (the command failed before sending)
    assert spare.poll() is not None and sender_spawn._spare is None
    sender_spawn.start_early([str(tmp_path)])
    dead = sender_spawn._spare
    assert dead is not None
    dead.kill()
    dead.wait()
    assert sender_spawn.take() is None  # a spare that died is not handed out


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="reads /proc")
def test_the_sender_ends_with_a_killed_parent(sink: SinkServer, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20_000):  # long enough to be killed in the middle
        (src / f"f{i:05d}").touch()
    cli = start_cli("upload", str(src), "s3://bench/p/", "--endpoint-url", sink.url)
    try:
        deadline = time.monotonic() + 60
        kids: list[int] = []
        while not kids and time.monotonic() < deadline and cli.poll() is None:
            kids = [k for k in _children(cli.pid) if _alive(k)]
            time.sleep(0.01)
        assert kids, "no sender process was seen"
        cli.kill()
        cli.wait(30)
        deadline = time.monotonic() + 10
        while any(_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(k) for k in kids)
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.communicate()


class _Specs:
    """A PutSource of spec requests (what SmallFiles gives while the loop
    forwards); each fallback answers ("fallback", 0)."""

    def __init__(self) -> None:
        self.todo: list[tuple[str, PutRequest]] = []
        self.results: dict[str, object] = {}
        self.fell_back: list[str] = []
        self.lock = threading.Lock()

    def add(self, name: str, spec: sender.Spec) -> None:
        def fallback(_refused: BaseException | None) -> tuple[str, int]:
            self.fell_back.append(name)
            return ("fallback", 0)

        with self.lock:
            self.todo.append((name, PutRequest(spec.route, b"", b"", "", fallback, spec=spec)))

    def take(self, n: int) -> list[tuple[str, PutRequest]]:
        with self.lock:
            taken, self.todo = self.todo[:n], self.todo[n:]
        return taken

    def done(self, results: list[tuple[str, object]]) -> None:
        self.results.update(results)


def test_a_stuck_sender_is_replaced_by_the_fallback(sink: SinkServer, tmp_path: Path,
                                                   monkeypatch) -> None:
    monkeypatch.setattr(putloop, "STUCK_MARGIN", 0.5)
    endpoint = Endpoint(endpoint_url=sink.url)
    factory = ClientFactory(2)
    route = SmallPut().route(factory.client(endpoint), endpoint, "bench")
    assert route is not None
    creds = factory.credentials(endpoint)
    source = _Specs()
    loop = PutLoop(source, limit=8, connect_timeout=0.5, read_timeout=0.5, child=True)

    def spec_of(name: str, data: bytes) -> sender.Spec:
        path = tmp_path / name
        path.write_bytes(data)
        st = path.stat()
        return sender.Spec(route, (creds.access_key, creds.secret_key, creds.token), None,
                           str(path), len(data), (len(data), st.st_mtime_ns, ""), "", "md5",
                           f"s/{name}", {})

    try:
        source.add("first", spec_of("first", b"sent by the sender process"))
        loop.wake()
        deadline = time.monotonic() + 30
        while "first" not in source.results and time.monotonic() < deadline:
            time.sleep(0.01)
        assert source.results["first"] == (
            f'"{hashlib.md5(b"sent by the sender process").hexdigest()}"', 0)
        pid = loop.sender_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # alive, answering nothing
        source.add("second", spec_of("second", b"never answered there"))
        loop.wake()
        while "second" not in source.results and time.monotonic() < deadline:
            time.sleep(0.05)
        assert source.results["second"] == ("fallback", 0) and source.fell_back == ["second"]
        assert loop.sender_pid is None and not loop.forwarding
    finally:
        loop.stop()
    assert not _alive(pid)
