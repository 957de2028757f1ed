"""Quitting: it returns whatever the network does (a held Complete does not
hold the quit), the transfer resumes at the next start, and quitting with
uploads running asks once, with a "Don't ask again"."""

from __future__ import annotations

from pathlib import Path

from mpugui.core.units import MiB
from mpugui.ui.common import settings as cfg
from tests.clirun import json_lines, run_cli, start_cli, transfers
from tests.conftest import make_file
from tests.e2e.test_cli_through_window import _sent_once, proxy  # noqa: F401 (a fixture)
from tests.e2e.test_single_instance import _start_window, _stop
from tests.faultproxy import Fault, FaultProxy, wait_for
from tests.ui.test_ui_main_window import Dest, make_window  # noqa: F401 (a fixture)


def test_quit_with_a_held_complete_returns_and_the_transfer_resumes_next_start(
        qapp, proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    src = make_file(tmp_path / "held-complete.bin", 20 * MiB + 3, seed=21)
    hold = proxy.add(Fault("CompleteMultipartUpload", "hold"))
    window = _start_window(qapp)
    cli = start_cli("upload", str(src), f"s3://{bucket}/held-complete.bin", "--endpoint-url",
                    proxy.url, "--part-size", "5MiB", "--json")
    try:
        wait_for(hold.held.is_set, 60, "the Complete to reach the server")
        # The read timeout is 60 s and botocore would retry: the window can only
        # be gone now because quitting does not wait for the held request.
        assert _stop(window) == 0
        assert not hold.release.is_set() and proxy.count("CompleteMultipartUpload") == 0
        out, err = cli.communicate(timeout=60)
        assert cli.returncode == 3, err + out  # the window went away mid-command
        assert "The window stopped before the command ended" in out
    finally:
        hold.release.set()
        proxy.clear()
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert [t["state"] for t in transfers()] == ["assembling"]  # as after a crash

    again = _start_window(qapp)
    try:
        resumed = run_cli("resume", "--all", "--json")
        assert resumed.returncode == 0, resumed.stderr + resumed.stdout
        assert json_lines(resumed.stdout)[-1]["states"] == {"done": 1}
    finally:
        assert _stop(again) == 0
    assert _sent_once(proxy, "held-complete.bin")  # no part was sent again
    body = s3.get_object(Bucket=bucket, Key="held-complete.bin")["Body"].read()
    assert body == src.read_bytes()


def test_quitting_with_uploads_running_asks_once_and_can_stop_asking(
        qtbot, make_window, proxy: FaultProxy, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    from mpugui.core.s3.endpoint import Endpoint

    hold = proxy.add(Fault("CreateMultipartUpload", "hold"))
    window = make_window()
    endpoint = Endpoint(endpoint_url=proxy.url, region="us-east-1")
    for i in range(3):
        window.add_paths([str(make_file(tmp_path / f"q{i}.bin", 6 * MiB, seed=30 + i))],
                         Dest(endpoint, bucket))
    qtbot.waitUntil(lambda: window.engine.running_count() == 3, timeout=20000)
    # The event loop must run: workers are started on the engine's (GUI) thread.
    qtbot.waitUntil(hold.held.is_set, timeout=20000)

    window.request_quit()
    box = window.quit_guard.box
    assert box is not None and box.isVisible()
    assert box.text() == ("3 uploads are running; they will wait, paused, for Resume the next "
                          "time mpugui starts (or turn on Settings ▸ Resume unfinished uploads "
                          "at start).")
    window.request_quit()  # asked once: the same question, not a second one
    assert window.quit_guard.box is box
    box.button(box.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: window.quit_guard.box is None)
    assert window.isVisible()  # Cancel: nothing stopped

    window.request_quit()
    box = window.quit_guard.box
    assert box is not None
    window.quit_guard.dont_ask.setChecked(True)
    proxy.clear()  # let the held request go, so the fixture finds no worker left
    window.quit_guard.quit_button.click()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert cfg.get(window.settings, cfg.ASK_BEFORE_QUIT) is False

    later = make_window()  # told not to ask: Quit quits at once
    later.request_quit()
    assert later.quit_guard.box is None and not later.isVisible()


def test_the_question_names_what_happens_next() -> None:
    from mpugui.ui.app.quit_guard import question

    assert question(1, True) == "1 upload is running; it will continue the next time mpugui starts."
    assert question(3, True).startswith("3 uploads are running; they will continue")


def test_ctrl_c_of_the_cli_with_a_held_complete_returns_and_resume_finishes(
        proxy: FaultProxy, s3, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    import signal

    src = make_file(tmp_path / "cli-held.bin", 20 * MiB + 3, seed=22)
    hold = proxy.add(Fault("CompleteMultipartUpload", "hold"))
    cli = start_cli("upload", str(src), f"s3://{bucket}/cli-held.bin", "--endpoint-url",
                    proxy.url, "--part-size", "5MiB", "--json")
    try:
        wait_for(hold.held.is_set, 60, "the Complete to reach the server")
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=60)  # not the 60 s read timeout and retries
        assert cli.returncode == 3, err + out
        assert not hold.release.is_set() and proxy.count("CompleteMultipartUpload") == 0
    finally:
        hold.release.set()
        proxy.clear()
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    resumed = run_cli("resume", "--all", "--json")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert _sent_once(proxy, "cli-held.bin")
    assert s3.get_object(Bucket=bucket, Key="cli-held.bin")["Body"].read() == src.read_bytes()
