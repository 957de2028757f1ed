"""CLI commands that change transfers run through the window that owns the
journal (real processes: a window offscreen, the CLI, moto behind the fault
proxy that counts what reaches the server): the transfer shows in the
window's engine, is uploaded once, and the CLI prints and exits as usual."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.units import MiB
from tests.clirun import json_lines, run_cli, start_cli, transfers
from tests.conftest import make_file
from tests.e2e.test_single_instance import _start_window, _stop, _wait_for_log
from tests.faultproxy import Fault, FaultProxy, wait_for


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


def _sent_once(proxy: FaultProxy, key: str) -> bool:
    """Every part of `key` reached the server exactly once."""
    parts = sorted(f.part or 0 for f in proxy.forwarded
                   if f.op == "UploadPart" and f.status == 200 and f.key == key)
    return len(parts) > 1 and parts == list(range(1, len(parts) + 1))


def test_upload_runs_through_the_window_and_is_sent_once(
        qapp, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "via-window.bin", 20 * MiB + 5, seed=11)
    small = make_file(tmp_path / "small.txt", 300, seed=12)
    window = _start_window(qapp)
    try:
        done = run_cli("upload", str(src), str(small), f"s3://{bucket}/in/",
                       "--endpoint-url", proxy.url, "--part-size", "5MiB", "--json")
        assert done.returncode == 0, done.stderr + done.stdout
        lines = json_lines(done.stdout)
        states = [(e["source"], e["state"]) for e in lines if e["event"] == "state"]
        assert (str(src), "done") in states and (str(small), "done") in states
        summary = lines[-1]
        assert summary["event"] == "summary" and summary["states"] == {"done": 2}
        assert any(e["event"] == "progress" for e in lines)
        _wait_for_log("Running `mpugui upload` from the command line")
        # the window's engine did it, once: each part reached the server once
        assert _sent_once(proxy, "in/via-window.bin")
        assert proxy.body_bytes(("UploadPart", "PutObject")) == src.stat().st_size + 300
        body = s3.get_object(Bucket=bucket, Key="in/via-window.bin")["Body"].read()
        assert body == src.read_bytes()
        # the window journaled it: a read-only command sees it done
        assert {t["state"] for t in transfers()} == {"done"}

        plain = run_cli("upload", str(tmp_path / "missing.bin"), f"s3://{bucket}/x",
                        "--endpoint-url", proxy.url)
        assert plain.returncode == 2, plain.stderr + plain.stdout  # as when run alone
        assert "missing.bin" in plain.stderr
        assert "Transfers: nothing." in plain.stdout
    finally:
        assert _stop(window) == 0


def _interrupted_upload(src: Path, bucket: str, url: str, key: str) -> None:
    """A CLI upload stopped with SIGTERM while its parts go: paused, resumable."""
    proc = start_cli("upload", str(src), f"s3://{bucket}/{key}", "--endpoint-url", url,
                     "--part-size", "5MiB", "--concurrency", "1", "--bwlimit", "4MiB/s",
                     "--json")
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and any(t["parts_done"] for t in event["transfers"]):
            break
    assert _stop(proc) == 3


def test_resume_all_and_cancel_run_through_the_window(
        qapp, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "resumed.bin", 22 * MiB + 9, seed=13)
    other = make_file(tmp_path / "cancelled.bin", 20 * MiB, seed=14)
    _interrupted_upload(src, bucket, proxy.url, "resumed.bin")
    _interrupted_upload(other, bucket, proxy.url, "cancelled.bin")
    ids = {t["source"]: t["id"] for t in transfers()}
    window = _start_window(qapp)  # restores both, paused (auto-resume is off)
    try:
        cancel = run_cli("cancel", str(ids[str(other)]))
        assert cancel.returncode == 0, cancel.stderr + cancel.stdout
        assert f"cancelled {other} → s3://{bucket}/cancelled.bin" in cancel.stdout
        assert "Transfers: 1 cancelled." in cancel.stdout

        resumed = run_cli("resume", "--all", "--json")
        assert resumed.returncode == 0, resumed.stderr + resumed.stdout
        lines = json_lines(resumed.stdout)
        assert lines[-1]["event"] == "summary" and lines[-1]["states"] == {"done": 1}
        # every part reached the server once over both processes
        assert _sent_once(proxy, "resumed.bin")
        body = s3.get_object(Bucket=bucket, Key="resumed.bin")["Body"].read()
        assert body == src.read_bytes()
        assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
        unknown = run_cli("resume", "99")
        assert unknown.returncode == 2 and "No unfinished transfer with id 99" in unknown.stderr
        nothing = run_cli("resume", "--all")
        assert nothing.returncode == 0 and "Nothing to do." in nothing.stdout
    finally:
        assert _stop(window) == 0


def test_ctrl_c_of_a_forwarded_upload_pauses_it_in_the_window(
        qapp, proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "held.bin", 20 * MiB, seed=15)
    hold = proxy.add(Fault("UploadPart", "hold", part=2))
    window = _start_window(qapp)
    try:
        proc = start_cli("upload", str(src), f"s3://{bucket}/held.bin", "--endpoint-url",
                         proxy.url, "--part-size", "5MiB", "--json")
        wait_for(hold.held.is_set, 60, "part 2 to reach the server")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 3, err + out
        assert json_lines(out)[-1]["states"] == {"paused": 1}
        assert [t["state"] for t in transfers()] == ["paused"]
    finally:
        hold.release.set()
        assert _stop(window) == 0


def test_resume_restart_runs_through_the_window(
        qapp, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:
    src = make_file(tmp_path / "again.bin", 20 * MiB + 1, seed=16)
    _interrupted_upload(src, bucket, proxy.url, "again.bin")
    (first,) = transfers()
    window = _start_window(qapp)
    try:
        restarted = run_cli("resume", "--restart", str(first["id"]), "--json")
        assert restarted.returncode == 0, restarted.stderr + restarted.stdout
        lines = json_lines(restarted.stdout)
        states = [(e["id"], e["state"]) for e in lines if e["event"] == "state"]
        assert (first["id"], "cancelled") in states  # the old upload was aborted
        new_id = next(i for i, s in states if i != first["id"])
        assert (new_id, "done") in states
        assert lines[-1]["states"] == {"done": 1}
        assert s3.get_object(Bucket=bucket, Key="again.bin")["Body"].read() == src.read_bytes()
        assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    finally:
        assert _stop(window) == 0


def test_a_folder_through_the_window_counts_only_its_own_files(
        qapp, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(40):
        make_file(folder / f"sub{i % 3}" / f"f{i}.txt", 1000 + i, seed=100 + i)
    window = _start_window(qapp)
    try:
        first = run_cli("upload", str(folder), f"s3://{bucket}/many/", "--endpoint-url",
                        proxy.url, "--json")
        assert first.returncode == 0, first.stderr + first.stdout
        lines = json_lines(first.stdout)
        done = {e["id"] for e in lines if e["event"] == "state" and e["state"] == "done"}
        assert len(done) == 40 and lines[-1]["states"] == {"done": 40}
        assert proxy.count("PutObject") == 40  # each file once
        again = run_cli("upload", str(folder), f"s3://{bucket}/many/", "--endpoint-url",
                        proxy.url)
        assert again.returncode == 0, again.stderr + again.stdout
        assert "40 unchanged, skipped." in again.stdout
        assert proxy.count("PutObject") == 40
    finally:
        assert _stop(window) == 0
