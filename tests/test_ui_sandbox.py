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
from mpugui.core.endpoint import ClientFactory
from mpugui.core.paths import state_dir
from mpugui.core.sandbox import ACCOUNT_NAME, ORPHANS, start_sandbox
from mpugui.core.units import MiB
from mpugui.engine.engine import EngineSettings, UploadRequest
from mpugui.ui.launch import parse_args, start_session
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
