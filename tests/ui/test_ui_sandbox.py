"""`mpugui --sandbox`: a moto server on 127.0.0.1 with a bucket, orphaned
multipart uploads and a saved account; the window opens on it with a banner,
and everything stops on close."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
from PySide6.QtWidgets import QLabel

from mpugui.core import secrets
from mpugui.core.accounts import AccountStore
from mpugui.core.paths import state_dir
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.sandbox import ACCOUNT_NAME, ORPHANS, start_sandbox
from mpugui.core.units import MiB
from mpugui.engine.engine import EngineSettings, UploadRequest
from mpugui.ui.app.launch import parse_args, start_session
from tests.conftest import make_file


def test_sandbox_seeds_a_bucket_orphans_and_an_account(isolated_env) -> None:
    box = start_sandbox(part_size=256 * 1024)
    try:
        assert box.endpoint_url.startswith("http://127.0.0.1:")
        assert box.home == state_dir() and not box.temporary_home  # MPUGUI_HOME was set
        account = AccountStore().get(ACCOUNT_NAME)
        assert account.kind == "keys" and account.endpoint_url == box.endpoint_url
        # the secret is in the keyring, not in the accounts file
        assert secrets.get_secret(ACCOUNT_NAME) == isolated_env.store[("mpugui", ACCOUNT_NAME)]
        assert secrets.get_secret(ACCOUNT_NAME) not in (Path(state_dir()) /
                                                        "accounts.json").read_text()
        client = ClientFactory().client(box.endpoint)  # through the saved account
        uploads = client.list_multipart_uploads(Bucket=box.bucket)["Uploads"]
        assert sorted(u["Key"] for u in uploads) == sorted(k for k, _ in ORPHANS)
        for key, parts in ORPHANS:
            upload_id = next(u["UploadId"] for u in uploads if u["Key"] == key)
            listed = client.list_parts(Bucket=box.bucket, Key=key, UploadId=upload_id)["Parts"]
            assert len(listed) == parts
    finally:
        box.stop()


def test_sandbox_makes_its_own_home_and_cleans_it_up(monkeypatch, isolated_env) -> None:
    monkeypatch.delenv("MPUGUI_HOME")
    box = start_sandbox(part_size=256 * 1024)
    assert box.temporary_home and box.home.is_dir()
    assert Path(state_dir()) == box.home  # the app's state goes there too
    assert ("mpugui", ACCOUNT_NAME) in isolated_env.store
    box.stop()
    assert not box.home.exists()
    assert ("mpugui", ACCOUNT_NAME) not in isolated_env.store


def test_sandbox_without_keyring_keeps_the_secret_for_the_session(monkeypatch) -> None:
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    monkeypatch.setattr(keyring, "get_keyring", lambda: FailKeyring())
    box = start_sandbox(part_size=256 * 1024)
    try:
        assert box.keyring_session_only
        assert secrets.get_secret(ACCOUNT_NAME) is not None
        data = json.loads((Path(state_dir()) / "accounts.json").read_text())
        assert "secret" not in json.dumps(data).lower()
    finally:
        box.stop()
        secrets.delete_secret(ACCOUNT_NAME)


def test_sandbox_session_opens_the_window_uploads_and_stops(qtbot, tmp_path: Path) -> None:
    args, _ = parse_args(["--sandbox", "a.bin", "b.bin"])
    assert args.sandbox and args.files == ["a.bin", "b.bin"]
    before = {t.ident for t in threading.enumerate()}
    session = start_session(sandbox=True, engine_settings=EngineSettings(
        part_size=5 * MiB, threshold=5 * MiB, concurrency=2))
    try:
        window = session.window
        qtbot.addWidget(window)
        window.show()
        # The window does not wait for the server: the banner says it is starting.
        assert window.banner is not None
        assert "starting the sandbox" in window.banner.text.text()
        qtbot.waitUntil(lambda: "bucket" in window.banner.text.text(), timeout=30000)
        assert session.sandbox.ready.is_set() and session.sandbox.error is None
        banner = window.findChild(QLabel, None)
        texts = [w.text() for w in window.findChildren(QLabel)]
        assert banner is not None and any("Sandbox" in t and session.sandbox.endpoint_url in t
                                          for t in texts)
        assert "Sandbox" in window.windowTitle()
        src = make_file(tmp_path / "s.bin", 6 * MiB, seed=11)
        tid = session.engine.add(UploadRequest(str(src), session.sandbox.bucket, "s.bin",
                                               session.sandbox.endpoint))
        qtbot.waitUntil(lambda: (t := window.model.transfer(tid)) is not None
                        and t.state == "done", timeout=30000)
        s3 = boto3.client("s3", endpoint_url=session.sandbox.endpoint_url,
                          region_name="us-east-1")
        assert s3.get_object(Bucket=session.sandbox.bucket, Key="s.bin")["Body"].read() \
            == src.read_bytes()
        browser = window.ensure_uploads_browser()
        if browser is not None:  # the browser opens on the sandbox bucket
            assert session.sandbox.bucket in browser.bucket.currentText()
    finally:
        session.close()
    assert not session.engine._timer.isActive()
    assert session.runner.pool.activeThreadCount() == 0
    # Python threads (the moto server's); Qt threads show up as _DummyThread
    # forever and are checked through Qt above
    left = [t.name for t in threading.enumerate() if t.ident not in before
            and not isinstance(t, threading._DummyThread)]
    assert not left, left


def test_files_added_while_the_sandbox_starts_wait_for_it(qtbot, tmp_path: Path) -> None:
    session = start_session(sandbox=True, engine_settings=EngineSettings(
        part_size=5 * MiB, threshold=5 * MiB, concurrency=2))
    try:
        window = session.window
        qtbot.addWidget(window)
        box = session.sandbox
        assert window.banner is not None and not window.banner.is_ready
        src = make_file(tmp_path / "early.bin", 1000, seed=12)

        class Dest:  # what the destination dialog hands back
            endpoint, bucket, prefix = box.endpoint, box.bucket, ""
            storage_class = checksum = part_size = concurrency = None
            no_overwrite = skip_existing = False

        window.add_paths([str(src)], Dest())
        assert window.model.total() == 0 or not box.ready.is_set()  # held, not refused
        qtbot.waitUntil(lambda: any(t.state == "done" for t in window.model.snapshots()),
                        timeout=30000)
    finally:
        session.close()


def test_sandbox_transfers_of_a_dead_sandbox_start_over_on_the_new_one(
        qtbot, tmp_path: Path, monkeypatch) -> None:
    import tempfile

    from mpugui.core.journal.store import Journal
    from mpugui.core.paths import journal_path
    from mpugui.core.sandbox import STARTED_OVER
    from mpugui.core.states import CANCELLED, DONE, PAUSED
    from mpugui.engine.engine import TransferEngine

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # stale homes are looked for here
    settings = EngineSettings(part_size=5 * MiB, threshold=5 * MiB, concurrency=1)
    old = start_sandbox(part_size=256 * 1024)
    journal = Journal(journal_path())
    engine = TransferEngine(journal, ClientFactory(8), EngineSettings(
        part_size=5 * MiB, threshold=5 * MiB, concurrency=1, bandwidth_limit=4 * MiB))
    big = make_file(tmp_path / "big.bin", 12 * MiB, seed=21)
    tid = engine.add(UploadRequest(str(big), old.bucket, "big.bin", old.endpoint))
    qtbot.waitUntil(lambda: (s := engine.current_snapshot().by_id(tid)) is not None
                    and s.parts_done >= 1, timeout=30000)
    old_upload = engine.current_snapshot().by_id(tid).upload_id
    engine.pause([tid])
    (other,), _ = engine.add_many([UploadRequest(str(big), old.bucket, "other.bin",
                                                 old.endpoint)], paused=True)
    folder = tmp_path / "walked"
    make_file(folder / "w.bin", 1000, seed=22)
    from mpugui.core.transfer.feeder import FeedRequest

    journal.add_walk(FeedRequest([str(folder)], old.bucket, "w/", old.endpoint).to_json())
    assert engine.shutdown()
    journal.close()
    # The old sandbox's process ends, and its server's uploads with it (moto's
    # store is shared by the servers of one process: say so explicitly).
    client = ClientFactory().client(old.endpoint)
    client.abort_multipart_upload(Bucket=old.bucket, Key="big.bin", UploadId=old_upload)
    old.server.stop()

    session = start_session(sandbox=True, engine_settings=settings)
    try:
        new = session.sandbox
        assert new.endpoint_url != old.endpoint_url
        # The journal is read once the new sandbox's server runs (it starts
        # behind the window): its transfers resume against a live server.
        qtbot.waitUntil(lambda: session.restoring is not None, timeout=30000)
        session.restoring.join()
        eng = session.engine
        rec = eng.record(tid)
        assert rec.endpoint == new.endpoint and rec.upload_id is None
        assert eng.state_of(tid) == PAUSED  # auto-resume is off
        assert eng.current_snapshot().by_id(tid).detail == STARTED_OVER
        assert eng.current_snapshot().by_id(tid).parts_done == 0  # started over
        eng.resume([tid])  # Retry/Resume reach the new server
        qtbot.waitUntil(lambda: eng.state_of(tid) == DONE, timeout=60000)
        s3 = boto3.client("s3", endpoint_url=new.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="sandbox", aws_secret_access_key="sandbox-secret")
        assert s3.get_object(Bucket=new.bucket, Key="big.bin")["Body"].read() == big.read_bytes()
        eng.cancel([other])
        qtbot.waitUntil(lambda: eng.state_of(other) == CANCELLED, timeout=30000)
        # the walk the old run had not finished goes on against the new sandbox
        qtbot.waitUntil(lambda: all(f.finished for f in session.walks), timeout=30000)
        walked = [eng.record(i) for i in eng.transfer_ids() if eng.record(i).key == "w/w.bin"]
        assert len(walked) == 1 and walked[0].endpoint == new.endpoint
    finally:
        session.close()


def test_stale_sandbox_homes_of_dead_processes_are_removed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from mpugui.core.journal import owner
    from mpugui.core.sandbox import HOME_PREFIX, PID_FILE, STALE_WITHOUT_PID, clean_stale_homes

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = dead.stdout.strip()

    def home(name: str, pid: str | None, age: float = 0) -> Path:
        h = tmp_path / f"{HOME_PREFIX}{name}"
        h.mkdir()
        if pid is not None:
            (h / PID_FILE).write_text(pid)
        if age:
            os.utime(h, (time.time() - age, time.time() - age))
        return h

    crashed = home("crashed", dead_pid)
    running = home("running", str(os.getpid()))
    owned = home("owned", dead_pid)  # its maker died, but someone owns it now
    old_unknown = home("old", None, age=STALE_WITHOUT_PID + 60)
    young_unknown = home("young", None)
    other = tmp_path / "not-a-sandbox"
    other.mkdir()
    with owner.acquire("window", owned / owner.LOCK_NAME):
        removed = clean_stale_homes(tmp_path)
    assert sorted(removed) == sorted([crashed, old_unknown])
    assert not crashed.exists() and not old_unknown.exists()
    assert running.exists() and owned.exists() and young_unknown.exists() and other.exists()


def test_simulated_network_loss_shows_resume_within_one_run(qtbot, tmp_path: Path) -> None:
    from mpugui.core.states import DONE, WAITING
    from mpugui.ui.app.sandbox_banner import LOSE, RESTORE

    settings = EngineSettings(part_size=5 * MiB, threshold=5 * MiB, concurrency=2,
                              bandwidth_limit=4 * MiB, retry_base=0.05)
    session = start_session(sandbox=True, engine_settings=settings)
    try:
        window, box, eng = session.window, session.sandbox, session.engine
        qtbot.addWidget(window)
        window.show()
        banner = window.banner
        assert banner is not None
        qtbot.waitUntil(lambda: banner.network.isVisible(), timeout=30000)
        assert banner.network.text() == LOSE
        window.resize(1280, 800)  # room for the how-to in the banner itself
        qtbot.waitUntil(lambda: "To see resume" in banner.text.text(), timeout=5000)
        window.resize(700, 500)  # narrow (scale 2 on 1366x768): it goes to the tooltip
        qtbot.waitUntil(lambda: "To see resume" not in banner.text.text(), timeout=5000)
        assert banner.text.toolTip().startswith("To see resume")
        big = make_file(tmp_path / "resumed.bin", 30 * MiB, seed=31)
        tid = eng.add(UploadRequest(str(big), box.bucket, "resumed.bin", box.endpoint))
        qtbot.waitUntil(lambda: (s := eng.current_snapshot().by_id(tid)) is not None
                        and s.parts_done >= 1, timeout=60000)

        banner.network.click()  # the network is lost: the upload waits, its parts kept
        qtbot.waitUntil(lambda: eng.state_of(tid) == WAITING, timeout=60000)
        qtbot.waitUntil(lambda: banner.network.text() == RESTORE and banner.network.isEnabled(),
                        timeout=30000)
        assert box.offline and "network is lost" in banner.text.text()
        kept = eng.current_snapshot().by_id(tid).parts_done
        assert kept >= 1

        banner.network.click()  # back: it carries on from its finished parts
        qtbot.waitUntil(lambda: eng.state_of(tid) == DONE, timeout=60000)
        assert not box.offline and banner.network.text() == LOSE
        s3 = boto3.client("s3", endpoint_url=box.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="sandbox", aws_secret_access_key="sandbox-secret")
        assert s3.get_object(Bucket=box.bucket, Key="resumed.bin")["Body"].read() \
            == big.read_bytes()
        # What was sent again is at most the parts that were on the wire at the loss.
        snap = eng.current_snapshot().by_id(tid)
        assert big.stat().st_size <= snap.wire_bytes <= big.stat().st_size + 2 * 5 * MiB
    finally:
        session.close()
