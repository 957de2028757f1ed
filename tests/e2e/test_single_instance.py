"""One owner per state directory, with real processes (offscreen): a second
`mpugui FILE` hands its file to the running window; CLI commands that change
transfers are refused (exit 5) while the window or another command owns the
journal; read-only ones still work; a SIGKILLed owner's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.journal import owner
from mpugui.core.units import MiB
from tests.clirun import ROOT, cli_cmd, cli_env, run_cli, start_cli
from tests.conftest import make_file


def _home() -> Path:
    return Path(os.environ["MPUGUI_HOME"])


def _log_text() -> str:
    try:
        return (_home() / "mpugui.log").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _socket_answers(qapp) -> bool:
    from PySide6.QtNetwork import QLocalSocket

    from mpugui.ui.app.single_instance import server_name

    sock = QLocalSocket()
    sock.connectToServer(server_name(_home()))
    try:
        return sock.waitForConnected(200)
    finally:
        sock.abort()


def _start_window(qapp, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cli_cmd(*args), cwd=ROOT, env=cli_env(QT_QPA_PLATFORM="offscreen"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _socket_answers(qapp):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the window exited with {proc.returncode}: {err}{out}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the window's socket never answered")
        time.sleep(0.1)
    return proc


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    return proc.returncode


@pytest.fixture
def window(qapp) -> Iterator[subprocess.Popen[str]]:
    proc = _start_window(qapp)
    yield proc
    assert _stop(proc) == 0


def _wait_for_log(text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in _log_text():
        assert time.monotonic() < deadline, f"{text!r} not in the log:\n{_log_text()[-2000:]}"
        time.sleep(0.05)


def test_second_mpugui_hands_its_file_to_the_window_and_exits_0(window, tmp_path: Path) -> None:
    src = make_file(tmp_path / "handed.bin", 100, seed=1)
    started = time.monotonic()
    second = subprocess.run(cli_cmd(str(src)), cwd=ROOT, capture_output=True, text=True,
                            env=cli_env(QT_QPA_PLATFORM="offscreen"), timeout=60)
    took = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    assert took < 30  # it did not start a window of its own (and wait for it to close)
    _wait_for_log("Offered 1 file(s) from another mpugui")
    # still the one owner: the lock names the first process
    holder = owner.read_holder()
    assert holder is not None and holder.pid == window.pid and holder.is_window


def test_cli_that_changes_transfers_is_refused_while_the_window_runs(
        window, moto_url: str, bucket: str, tmp_path: Path) -> None:
    # upload, resume and cancel run through the window (test_cli_through_window);
    # the uploads commands that touch journaled uploads are refused at once
    refused = run_cli("uploads", "abort", f"s3://{bucket}/k", "--upload-id", "x",
                      "--endpoint-url", moto_url)
    assert refused.returncode == 5, refused.stderr + refused.stdout
    assert f"mpugui (the window, pid {window.pid}, since " in refused.stderr
    assert "is using this journal; use the window's In-progress uploads tab" in refused.stderr
    cleanup = run_cli("uploads", "cleanup", f"s3://{bucket}", "--older-than", "1d", "--yes",
                      "--endpoint-url", moto_url)
    assert cleanup.returncode == 5, cleanup.stderr
    local = make_file(tmp_path / "adopted.bin", 100, seed=2)
    adopt = run_cli("uploads", "adopt", f"s3://{bucket}/k", "--upload-id", "x", str(local),
                    "--endpoint-url", moto_url)
    assert adopt.returncode == 5, adopt.stderr + adopt.stdout
    assert f"pid {window.pid}" in adopt.stderr

    # read-only commands never take the lock
    listing = run_cli("transfers", "--json")
    assert listing.returncode == 0, listing.stderr
    uploads = run_cli("uploads", "list", f"s3://{bucket}", "--endpoint-url", moto_url)
    assert uploads.returncode == 0, uploads.stderr
    dry = run_cli("uploads", "cleanup", f"s3://{bucket}", "--older-than", "1d", "--dry-run",
                  "--endpoint-url", moto_url)
    assert dry.returncode == 0, dry.stderr


def test_a_crashed_windows_socket_and_lock_are_taken_over(qapp, tmp_path: Path) -> None:
    first = _start_window(qapp)
    assert _stop(first, signal.SIGKILL) == -signal.SIGKILL
    stale = owner.read_holder()
    assert stale is not None and stale.pid == first.pid  # its record is left behind
    second = _start_window(qapp)  # removes the stale socket and listens in its place
    try:
        src = make_file(tmp_path / "after-crash.bin", 10, seed=3)
        handed = subprocess.run(cli_cmd(str(src)), cwd=ROOT, capture_output=True, text=True,
                                env=cli_env(QT_QPA_PLATFORM="offscreen"), timeout=60)
        assert handed.returncode == 0, handed.stderr
        _wait_for_log("Offered 1 file(s) from another mpugui")
        holder = owner.read_holder()
        assert holder is not None and holder.pid == second.pid
    finally:
        assert _stop(second) == 0


def _slow_upload(src: Path, bucket: str, moto_url: str, key: str) -> subprocess.Popen[str]:
    proc = start_cli("upload", str(src), f"s3://{bucket}/{key}", "--endpoint-url", moto_url,
                     "--part-size", "5MiB", "--concurrency", "2", "--bwlimit", "4MiB/s",
                     "--json")
    assert proc.stdout is not None
    for line in proc.stdout:  # uploading: the lock is held
        if '"progress"' in line and json.loads(line)["transfers"]:
            return proc
    pytest.fail(f"the upload ended early: {proc.communicate()[1]}")


def test_a_sigkilled_owners_lock_is_taken_over_by_resume(s3, bucket: str, moto_url: str,
                                                         tmp_path: Path) -> None:
    src = make_file(tmp_path / "killed.bin", 20 * MiB + 7, seed=4)
    proc = _slow_upload(src, bucket, moto_url, "killed.bin")
    assert _stop(proc, signal.SIGKILL) == -signal.SIGKILL
    stale = owner.read_holder()
    assert stale is not None and stale.pid == proc.pid and stale.kind == "upload"

    resumed = run_cli("resume", "--all", "--json")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert s3.get_object(Bucket=bucket, Key="killed.bin")["Body"].read() == src.read_bytes()
    assert owner.read_holder() is None  # released at the end of its run


def test_two_cli_uploads_at_once_the_second_exits_5(bucket: str, moto_url: str,
                                                    tmp_path: Path) -> None:
    first_src = make_file(tmp_path / "first.bin", 20 * MiB, seed=5)
    second_src = make_file(tmp_path / "second.bin", 10, seed=6)
    first = _slow_upload(first_src, bucket, moto_url, "first.bin")
    try:
        started = time.monotonic()
        second = run_cli("upload", str(second_src), f"s3://{bucket}/second.bin",
                         "--endpoint-url", moto_url, timeout=60)
        assert second.returncode == 5, second.stderr + second.stdout
        assert time.monotonic() - started < 30  # at once, not after the first finished
        assert f"mpugui (`mpugui upload`, pid {first.pid}, since " in second.stderr
        assert first.poll() is None  # the first is still uploading, undisturbed
    finally:
        assert _stop(first) == 3  # SIGTERM: paused, resumable


def test_window_refuses_to_open_while_a_cli_command_owns_the_journal(
        qapp, monkeypatch: pytest.MonkeyPatch) -> None:
    from mpugui.ui.app import launch

    said: list[str] = []
    monkeypatch.setattr(launch.QMessageBox, "critical",
                        staticmethod(lambda _parent, _title, text: said.append(text)))
    with owner.acquire("resume"):
        assert launch._claim([]) == 1
    assert len(said) == 1 and said[0].startswith(f"mpugui (`mpugui resume`, pid {os.getpid()}")
    assert "then open the window again" in said[0]
    claimed = launch._claim([])  # free again: the window owns it and listens
    assert not isinstance(claimed, int)
    lock, server = claimed
    try:
        assert _socket_answers(qapp)
    finally:
        server.close()
        lock.release()


def test_a_second_sandbox_hands_its_file_to_the_running_sandbox(tmp_path: Path) -> None:
    from mpugui.core.sandbox import running_homes
    from mpugui.ui.app.single_instance import server_name

    # Sandboxes without MPUGUI_HOME: each makes a temporary home (under TMPDIR)
    env = cli_env(QT_QPA_PLATFORM="offscreen", TMPDIR=str(tmp_path))
    env.pop("MPUGUI_HOME")
    first = subprocess.Popen(cli_cmd("--sandbox"), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)

    def listening() -> Path | None:
        # Qt puts a local server's socket in the temporary folder: TMPDIR here
        for home in running_homes(tmp_path):
            if (tmp_path / server_name(home)).exists():
                return home
        assert first.poll() is None, first.communicate()
        return None

    try:
        deadline = time.monotonic() + 60
        while (home := listening()) is None:
            assert time.monotonic() < deadline, "the sandbox window never listened"
            time.sleep(0.1)
        src = make_file(tmp_path / "to-sandbox.bin", 100, seed=3)
        second = subprocess.run(cli_cmd("--sandbox", str(src)), cwd=ROOT, capture_output=True,
                                text=True, env=env, timeout=60)
        assert second.returncode == 0, second.stderr
        log = home / "mpugui.log"
        deadline = time.monotonic() + 20
        while "Offered 1 file(s) from another mpugui" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-2000:]
            time.sleep(0.05)
        assert list(tmp_path.glob("mpugui-sandbox-*")) == [home]  # no second sandbox
    finally:
        assert _stop(first) == 0
    assert not list(tmp_path.glob("mpugui-sandbox-*"))  # the sandbox cleaned up after itself
