"""Folder walks and bulk commands run through the window (mpugui.engine.
command_run): quitting halts a forwarded command's walk before the journal
closes and loses nothing; a forwarded `resume --all` takes over the walks
the window resumed itself at start; resume and cancel of thousands of
transfers are applied over many event-loop turns, not in one.

Real parts throughout: moto behind the fault proxy (which holds the
destination listing a folder upload starts with), the real CLI in a child
process, the window's session in this process or in its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from mpugui.core.journal.store import Journal
from mpugui.core.paths import journal_path
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.states import PAUSED
from mpugui.core.transfer.request import UploadRequest
from mpugui.engine import actions as actions_module
from mpugui.engine.command_run import CommandRun
from mpugui.engine.engine import EngineSettings, TransferEngine
from tests.clirun import json_lines, run_cli, start_cli
from tests.conftest import make_file
from tests.e2e.test_cli_through_window import proxy  # noqa: F401 (a fixture)
from tests.e2e.test_single_instance import _log_text, _start_window, _stop, _wait_for_log
from tests.faultproxy import Fault, FaultProxy, wait_for


def _folder(root: Path, n: int) -> Path:
    for i in range(n):
        make_file(root / f"f{i:03}.txt", 100 + i, seed=200 + i)
    return root


def _walks_and_rows() -> tuple[int, int]:
    journal = Journal(journal_path())
    try:
        return len(journal.walks()), len(journal.transfers())
    finally:
        journal.close()


def _keys(s3: Any, bucket: str, prefix: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"] for o in listed}


def test_quitting_during_a_forwarded_walk_halts_it_before_the_journal_closes(
        qtbot, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from mpugui.ui.app import launch

    folder = _folder(tmp_path / "walked", 12)
    hold = proxy.add(Fault("ListObjects", "hold"))  # skip-existing lists the destination first
    claim = launch._claim([])
    assert not isinstance(claim, int)
    session = launch.start_session()
    launch.serve(session, claim)
    cli = start_cli("upload", str(folder), f"s3://{bucket}/walked/", "--endpoint-url",
                    proxy.url, "--json")
    closed = False
    try:
        qtbot.waitUntil(hold.held.is_set, timeout=60000)  # the window's walk waits for it
        walkers = [t for t in threading.enumerate() if t.name == "mpugui-feeder"]
        assert walkers
        session.close()  # what quitting runs: the window, the engine, then the journal
        closed = True
        # The listing answers only now, after the journal closed: the halted
        # walk must not journal its batch (nor fail trying, on a closed journal).
        hold.release.set()
        for t in walkers:
            t.join(30)
            assert not t.is_alive()
        out, err = cli.communicate(timeout=60)
        assert cli.returncode == 3, err + out  # the window went away mid-command
        assert "The window stopped before the command ended" in out
    finally:
        hold.release.set()
        if not closed:
            session.close()
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert "stopped" not in _log_text().split("Running `mpugui upload`")[-1]
    assert _walks_and_rows() == (1, 0)  # the walk is still journaled, no file half-added

    # Nothing given is lost: the next resume walks the folder again.
    proxy.clear()
    resumed = run_cli("resume", "--all", "--json")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert json_lines(resumed.stdout)[-1]["states"] == {"done": 12}
    assert _keys(s3, bucket, "walked/") == {f"walked/f{i:03}.txt" for i in range(12)}
    assert _walks_and_rows() == (0, 12)


def test_forwarded_resume_all_takes_over_the_walk_the_window_resumed_paused(
        qapp, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    folder = _folder(tmp_path / "again", 8)
    hold = proxy.add(Fault("ListObjects", "hold"))
    window = _start_window(qapp)
    cli = start_cli("upload", str(folder), f"s3://{bucket}/again/", "--endpoint-url",
                    proxy.url, "--json")
    try:
        wait_for(hold.held.is_set, 60, "the walk's listing to reach the server")
        assert _stop(window) == 0  # quit mid-walk
        cli.communicate(timeout=60)
        assert cli.returncode == 3
    finally:
        hold.release.set()
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert _walks_and_rows() == (1, 0)

    # The next window resumes the walk itself, paused (auto-resume is off):
    # held again at its listing, so it is still walking when the CLI comes.
    proxy.clear()
    again = proxy.add(Fault("ListObjects", "hold"))
    window = _start_window(qapp)
    resumed = None
    try:
        wait_for(again.held.is_set, 60, "the restored walk's listing to reach the server")
        resumed = start_cli("resume", "--all", "--json")
        _wait_for_log("Running `mpugui resume` from the command line")
        again.release.set()
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err + out
        lines = json_lines(out)
        assert lines[-1]["event"] == "summary" and lines[-1]["states"] == {"done": 8}, out
        done = {e["source"] for e in lines if e["event"] == "state" and e["state"] == "done"}
        assert done == {str(folder / f"f{i:03}.txt") for i in range(8)}
    finally:
        again.release.set()
        if resumed is not None and resumed.poll() is None:
            resumed.kill()
            resumed.communicate()
        assert _stop(window) == 0
    assert _keys(s3, bucket, "again/") == {f"again/f{i:03}.txt" for i in range(8)}
    assert _walks_and_rows() == (0, 8)


# -- thousands of ids: sliced over event-loop turns ------------------------------------

N_BULK = 2 * actions_module.BULK_SLICE + 500  # three slices


@pytest.fixture
def bulk_engine(qtbot, journal: Journal, tmp_path: Path) -> Iterator[TransferEngine]:
    """An engine holding N_BULK paused 0-byte files (never started: no upload id)."""
    settings = EngineSettings(tick_ms=50, retry_base=0.05)
    engine = TransferEngine(journal, ClientFactory(8), settings)
    src = tmp_path / "empty"
    src.mkdir()
    endpoint = Endpoint(endpoint_url="http://127.0.0.1:9", region="us-east-1")  # never called
    requests = []
    for i in range(N_BULK):
        path = src / f"e{i}"
        path.touch()
        requests.append(UploadRequest(str(path), "bulk-bucket", f"e{i}", endpoint))
    ids, problems = engine.add_many(requests, paused=True)
    assert len(ids) == N_BULK and not problems
    yield engine
    engine.shutdown()


def _run(engine: TransferEngine, journal: Journal, request: dict[str, Any],
         turns: list[int]) -> tuple[CommandRun, list[dict[str, Any]]]:
    """Start a forwarded command as the window does; `turns` gets the number
    of paused transfers each time the event loop turns (a zero timer)."""
    sent: list[dict[str, Any]] = []
    probe = QTimer(engine)
    probe.setInterval(0)
    probe.timeout.connect(lambda: turns.append(engine._live[PAUSED]))
    run = CommandRun(engine, journal, request, sent.append)
    run.finished.connect(lambda _code: probe.stop())
    probe.start()
    run.start()
    return run, sent


def test_forwarded_cancel_of_thousands_runs_over_many_event_loop_turns(
        qtbot, bulk_engine: TransferEngine, journal: Journal) -> None:
    ids = bulk_engine.transfer_ids()
    said: list[str] = []
    bulk_engine.message.connect(lambda _level, text: said.append(text))
    turns: list[int] = []
    run, sent = _run(bulk_engine, journal, {"command": "cancel", "ids": ids}, turns)
    assert bulk_engine._live[PAUSED] == N_BULK  # nothing applied within the command's turn
    qtbot.waitUntil(lambda: run.ended, timeout=60000)
    # the loop turned (other events ran) while part of them were still paused
    assert any(0 < n < N_BULK for n in turns), turns[:20]
    end = sent[-1]
    assert end["event"] == "end" and end["code"] == 0 and end["counts"] == {"cancelled": N_BULK}
    told = {m["id"] for m in sent if m["event"] == "state" and m["state"] == "cancelled"}
    assert told == set(ids)
    assert {r.state for r in journal.transfers()} == {"cancelled"}
    # one sentence per slice, not one per transfer (the log view of the window)
    assert len(said) == len(range(0, N_BULK, actions_module.BULK_SLICE))
    assert all(t.startswith("Cancelled") and "had not reached the server" in t for t in said)


def test_forwarded_resume_all_of_thousands_runs_over_many_event_loop_turns(
        qtbot, bulk_engine: TransferEngine, journal: Journal) -> None:
    # Paused then resumed, they would upload; the run is interrupted (the CLI's
    # Ctrl-C) once the resume is applied, which pauses them again in slices.
    turns: list[int] = []
    run, sent = _run(bulk_engine, journal, {"command": "resume", "ids": None}, turns)
    assert bulk_engine._live[PAUSED] == N_BULK
    qtbot.waitUntil(lambda: not run._slicing, timeout=60000)
    assert any(0 < n < N_BULK for n in turns), turns[:20]
    assert bulk_engine._live[PAUSED] < N_BULK  # resumed: queued or on their way
    run.stop()
    qtbot.waitUntil(lambda: run.ended, timeout=60000)
    end = sent[-1]
    assert end["event"] == "end" and end["code"] == 3  # interrupted, as the CLI's Ctrl-C
    assert sum(end["counts"].values()) == N_BULK
