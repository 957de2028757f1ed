"""The destination dialog (buckets listed from moto, key names, the emitted
Destination, choices remembered per account, the typed fallback when
ListBuckets is denied) and the account dialog's Test connection."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLineEdit

from mpugui.core.accounts import Account, AccountStore
from mpugui.core.paths import state_dir
from mpugui.core.s3.checksums import DEFAULT_ALGORITHM
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.sources import collect
from mpugui.core.units import MiB
from mpugui.ui.accounts.dialog import AccountsDialog
from mpugui.ui.destination.account_field import DEFAULT_ACCOUNT
from mpugui.ui.destination.destination import Destination, normalize_prefix
from mpugui.ui.destination.dialog import DestinationDialog
from mpugui.ui.destination.key_preview import KeyPreviewModel, walk_sources
from mpugui.ui.destination.send_options import SKIP_EXISTING_TIP
from tests.conftest import make_file
from tests.functional.test_preflight import denying_s3  # noqa: F401  (a fixture)


@pytest.fixture
def sources(tmp_path: Path) -> list[str]:
    folder = tmp_path / "src" / "Holiday"
    make_file(folder / "a.jpg", 1000, seed=1)
    make_file(folder / "raw" / "b.raw", 2000, seed=2)
    single = make_file(tmp_path / "src" / "notes.txt", 10, seed=3)
    return [str(folder), str(single), str(tmp_path / "src" / "missing.bin")]


def open_destination(qtbot, store, runner, paths, account="Local moto") -> DestinationDialog:
    dialog = DestinationDialog(store, runner, ClientFactory(), paths)
    qtbot.addWidget(dialog)
    dialog.show()
    if account is not None:
        dialog.account_combo.setCurrentIndex(dialog.account_combo.findData(account))
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=15000)
    return dialog


def type_into(qtbot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def shown_keys(dialog: DestinationDialog) -> list[str]:
    model = dialog.preview
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_lists_buckets_shows_keys_and_emits_destination(qtbot, store, runner, s3, bucket,
                                                        sources) -> None:
    # Nothing remembered yet: a saved account comes before the default chain.
    dialog = open_destination(qtbot, store, runner, sources, account=None)
    assert dialog.current_account() == "Local moto"
    names = [dialog.bucket_combo.itemText(i) for i in range(dialog.bucket_combo.count())]
    assert bucket in names
    assert names == sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert dialog.bucket_note.text().endswith("buckets in this account.") or \
        dialog.bucket_note.text() == "1 bucket in this account."

    dialog.bucket_combo.setCurrentText(bucket)
    type_into(qtbot, dialog.prefix_edit, "/backups/2024")
    assert dialog.prefix() == "backups/2024/"
    keys = ["backups/2024/Holiday/a.jpg", "backups/2024/Holiday/raw/b.raw",
            "backups/2024/notes.txt"]
    # The problem (a missing file) comes first, then the keys in walk order.
    shown = shown_keys(dialog)
    assert "missing.bin' does not exist." in shown[0]
    assert shown[1:] == keys
    assert dialog.preview.keys() == [f.key for f in
                                     collect(sources, dialog.prefix(), keep_folder_name=True).files]
    assert dialog.summary_label.text().startswith(
        f"3 files, 2.9 KiB → s3://{bucket}/backups/2024/")
    assert "1 entry cannot be uploaded" in dialog.summary_label.text()

    dialog.storage_combo.setCurrentIndex(dialog.storage_combo.findData("STANDARD_IA"))
    dialog.checksum_combo.setCurrentIndex(dialog.checksum_combo.findData("sha256"))
    dialog.keep_radio.setChecked(True)
    dialog.part_combo.setCurrentIndex(dialog.part_combo.findData(32 * MiB))
    dialog.concurrency_spin.setValue(6)
    with qtbot.waitSignal(dialog.accepted_destination, timeout=5000) as got:
        qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    dest = got.args[0]
    assert dest == Destination(
        endpoint=store.get("Local moto").endpoint(), bucket=bucket, prefix="backups/2024/",
        storage_class="STANDARD_IA", checksum="sha256", no_overwrite=True,
        part_size=32 * MiB, concurrency=6, skip_existing=True)  # a folder: on
    assert dest.uri() == f"s3://{bucket}/backups/2024/"
    assert not dialog.isVisible()


def test_defaults_and_default_credentials(qtbot, runner, moto_url, bucket, sources,
                                          monkeypatch) -> None:
    # No saved account: "AWS default credentials", the standard chain (here
    # AWS_ENDPOINT_URL points it at moto).
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    dialog = open_destination(qtbot, AccountStore(), runner, sources[:1], account=None)
    assert dialog.current_account() == DEFAULT_ACCOUNT
    assert dialog.account_combo.currentText() == "AWS default credentials"
    assert dialog.checksum_combo.currentData() == DEFAULT_ALGORITHM
    assert dialog.storage_combo.currentData() is None
    assert dialog.overwrite_radio.isChecked()
    assert dialog.part_size() is None and dialog.concurrency_spin.value() == 0
    assert dialog.bucket_combo.findText(bucket) >= 0  # listed through the standard chain
    dialog.bucket_combo.setCurrentText("some-bucket")
    dest = dialog.destination()
    assert dest.endpoint == Endpoint() and dest.prefix == ""
    assert (dest.part_size, dest.concurrency, dest.storage_class) == (None, None, None)


def test_choice_is_remembered_per_account(qtbot, store, runner, moto_url, bucket,
                                          sources) -> None:
    store.save(Account("Other/store", endpoint_url=moto_url, region="us-east-1"))
    first = open_destination(qtbot, store, runner, sources)
    first.bucket_combo.setCurrentText(bucket)
    type_into(qtbot, first.prefix_edit, "photos")
    first.storage_combo.setCurrentIndex(first.storage_combo.findData("GLACIER_IR"))
    first.checksum_combo.setCurrentIndex(first.checksum_combo.findData("crc32"))
    first.keep_radio.setChecked(True)
    first.part_combo.setCurrentText("48 MiB")  # typed, not in the list
    first.concurrency_spin.setValue(3)
    with qtbot.waitSignal(first.accepted_destination, timeout=5000):
        first.try_accept()

    second = open_destination(qtbot, store, runner, sources, account=None)
    assert second.current_account() == "Local moto"  # the last one used
    assert second.bucket_combo.currentText() == bucket
    assert second.prefix_edit.text() == "photos/"
    assert second.storage_combo.currentData() == "GLACIER_IR"
    assert second.checksum_combo.currentData() == "crc32"
    assert second.keep_radio.isChecked()
    assert second.part_size() == 48 * MiB
    assert second.concurrency_spin.value() == 3

    # Another account has its own (here: default) choice.
    second.account_combo.setCurrentIndex(second.account_combo.findData("Other/store"))
    assert second.prefix_edit.text() == ""
    assert second.checksum_combo.currentData() == DEFAULT_ALGORITHM
    assert second.overwrite_radio.isChecked()
    # Back again: the first account's choice returns.
    second.account_combo.setCurrentIndex(second.account_combo.findData("Local moto"))
    assert second.prefix_edit.text() == "photos/"
    qtbot.waitUntil(lambda: not second.busy(), timeout=15000)

    ini = Path(state_dir()) / "mpugui.ini"
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    assert settings.value("destinations/last_account") == "Local moto"
    assert settings.value("destinations/Local%20moto/prefix") == "photos/"


def test_skip_existing_defaults_and_is_remembered(qtbot, store, runner, bucket,
                                                  sources) -> None:
    folder, single = sources[0], sources[1]
    # A folder: ticked; the tooltip says how files are compared.
    dialog = open_destination(qtbot, store, runner, [folder])
    assert dialog.skip_check.isChecked()
    assert dialog.skip_check.text().replace("&", "") == \
        "Skip files already in the bucket (same size and content)"
    assert dialog.skip_check.toolTip() == SKIP_EXISTING_TIP
    assert "same size" in SKIP_EXISTING_TIP and "ETag" in SKIP_EXISTING_TIP
    dialog.bucket_combo.setCurrentText(bucket)
    assert dialog.destination().skip_existing is True
    dialog.skip_check.setChecked(False)
    assert dialog.destination().skip_existing is False
    with qtbot.waitSignal(dialog.accepted_destination, timeout=5000):
        dialog.try_accept()

    # A single file: unticked the first time, whatever the folder drop chose.
    files = open_destination(qtbot, store, runner, [single])
    assert not files.skip_check.isChecked()
    files.skip_check.setChecked(True)  # the user turns it on...
    with qtbot.waitSignal(files.accepted_destination, timeout=5000) as got:
        qtbot.mouseClick(files.upload_button, Qt.MouseButton.LeftButton)
    assert got.args[0].skip_existing is True

    # ...so the next drop of files starts ticked; a folder drop is ticked anyway.
    again = open_destination(qtbot, store, runner, [single])
    assert again.skip_check.isChecked()
    again.skip_check.setChecked(False)
    with qtbot.waitSignal(again.accepted_destination, timeout=5000):
        again.try_accept()
    assert not open_destination(qtbot, store, runner, [single]).skip_check.isChecked()
    assert open_destination(qtbot, store, runner, [folder, single]).skip_check.isChecked()


def test_listbuckets_denied_falls_back_to_typing(qtbot, runner, denying_s3,  # noqa: F811
                                                 sources) -> None:
    store = AccountStore()
    store.save(Account("Locked down", endpoint_url=denying_s3, region="us-east-1",
                       path_style=True))
    dialog = open_destination(qtbot, store, runner, sources, account="Locked down")
    assert dialog.bucket_combo.count() == 0
    assert dialog.bucket_note.text() == ("This account may not list buckets (access denied). "
                                         "Type the bucket's name instead.")
    assert dialog.bucket_combo.isEditable()
    assert dialog.bucket_combo.lineEdit().placeholderText() == "Type the bucket name"
    qtbot.keyClicks(dialog.bucket_combo.lineEdit(), "allowed-bucket")
    with qtbot.waitSignal(dialog.accepted_destination, timeout=5000) as got:
        qtbot.keyClick(dialog.bucket_combo.lineEdit(), Qt.Key.Key_Return)
    assert got.args[0].bucket == "allowed-bucket"


def test_unreachable_account_is_explained(qtbot, runner, sources) -> None:
    store = AccountStore()
    store.save(Account("Offline", endpoint_url="http://127.0.0.1:1"))
    dialog = open_destination(qtbot, store, runner, sources, account="Offline")
    assert dialog.bucket_note.text().startswith("The buckets cannot be listed: The endpoint "
                                                "could not be reached")


@pytest.mark.parametrize(("bucket", "part", "sentence"), [
    ("", "Automatic", "Choose a bucket, or type its name."),
    ("bad/bucket", "Automatic", "'bad/bucket' is not a valid bucket name"),
    ("good-bucket", "3 MiB",
     "Part size: 3.0 MiB is outside S3's limits for a part (5.0 MiB to 5.0 GiB)."),
    ("good-bucket", "0", "Part size: 0 B is outside S3's limits for a part"),
    ("good-bucket", "lots", "Part size: 'lots' is not a size"),
])
def test_invalid_choices_are_explained(qtbot, store, runner, sources, bucket, part,
                                       sentence) -> None:
    dialog = open_destination(qtbot, store, runner, sources)
    dialog.bucket_combo.setCurrentText(bucket)
    dialog.part_combo.setCurrentText(part)
    qtbot.mouseClick(dialog.upload_button, Qt.MouseButton.LeftButton)
    assert sentence in dialog.error_label.text()
    assert dialog.isVisible()


def test_nothing_to_upload_disables_upload(qtbot, store, runner, tmp_path) -> None:
    dialog = open_destination(qtbot, store, runner, [str(tmp_path / "nope.bin")])
    assert not dialog.upload_button.isEnabled()
    assert dialog.summary_label.text().startswith("0 files")


def test_accounts_button_opens_the_account_dialog(qtbot, store, runner, sources) -> None:
    dialog = open_destination(qtbot, store, runner, sources)
    type_into(qtbot, dialog.prefix_edit, "typed/before")
    qtbot.mouseClick(dialog.accounts_button, Qt.MouseButton.LeftButton)
    accounts = dialog.account.accounts_dialog
    assert isinstance(accounts, AccountsDialog) and accounts.isVisible()
    assert not accounts.isModal()
    qtbot.mouseClick(accounts.add_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, accounts.form.name_edit, "Added later")
    qtbot.mouseClick(accounts.save_button, Qt.MouseButton.LeftButton)
    assert dialog.account_combo.findData("Added later") >= 0
    assert dialog.current_account() == "Local moto"  # the choice did not jump
    assert dialog.prefix_edit.text() == "typed/before"  # nor was the form reset
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=15000)
    dialog.close()
    assert not accounts.isVisible()


def test_key_preview_model(qtmodeltester, sources) -> None:
    model = KeyPreviewModel()
    rows, problems = walk_sources(sources)
    model.set_walk(rows, problems)
    qtmodeltester.check(model)
    model.set_prefix("deep/")
    qtmodeltester.check(model)
    assert model.rowCount() == 4 and model.columnCount() == 3
    assert model.index(1, 0).data() == "deep/Holiday/a.jpg"
    assert model.index(1, 1).data() == "1000 B"
    assert model.index(1, 2).data() == os.path.join(sources[0], "a.jpg")
    # A prefix that makes a key too long turns that row into a problem.
    model.set_prefix("x" * 1020 + "/")
    assert model.file_count() == 0
    assert "S3 allows 1024" in model.index(1, 0).data()


@pytest.mark.parametrize(("typed", "prefix"), [
    ("", ""), ("  ", ""), ("a", "a/"), ("/a/b", "a/b/"), ("a/b/", "a/b/")])
def test_prefix_normalization(typed: str, prefix: str) -> None:
    assert normalize_prefix(typed) == prefix


# ------------------------------------------------------ account dialog tests
def test_test_connection_runs_off_the_gui_thread(qtbot, store, runner, bucket) -> None:
    dialog = AccountsDialog(store, runner, ClientFactory())
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.form.name_edit.text() == "Local moto"
    type_into(qtbot, dialog.tester.bucket_edit, bucket)
    qtbot.mouseClick(dialog.tester.button, Qt.MouseButton.LeftButton)
    assert not dialog.tester.button.isEnabled()  # the answer has not come yet
    assert dialog.status_label.text() == "Testing the connection…"
    qtbot.waitUntil(lambda: dialog.tester.button.isEnabled(), timeout=15000)
    assert [c.ok for c, _ in dialog.tester.checks.rows] == [True, True, True, True]
    assert f"'{bucket}' is reachable" in dialog.tester.checks.rows[1][1].text()

    missing = f"missing-{uuid.uuid4().hex[:8]}"
    type_into(qtbot, dialog.tester.bucket_edit, missing)
    qtbot.mouseClick(dialog.tester.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.tester.button.isEnabled(), timeout=15000)
    checks = [c for c, _ in dialog.tester.checks.rows]
    assert checks[1].ok is False
    assert checks[1].sentence == f"The bucket '{missing}' does not exist."
    assert dialog.status_label.text() == "Bucket failed; see the results above."


def test_test_connection_to_a_closed_port_says_so_in_the_dialog(qtbot, store, runner) -> None:
    # The endpoint as the user fixes it in the form, before saving: the
    # sentence under the button names the cause; the status line says which
    # check failed; the checks that could not run say why.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dialog = AccountsDialog(store, runner, ClientFactory())
    qtbot.addWidget(dialog)
    dialog.show()
    type_into(qtbot, dialog.form.endpoint_edit, f"http://127.0.0.1:{port}")
    type_into(qtbot, dialog.tester.bucket_edit, "any-bucket")
    qtbot.mouseClick(dialog.tester.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.tester.button.isEnabled(), timeout=15000)
    (creds, label), *others = dialog.tester.checks.rows
    assert creds.ok is False
    assert f"nothing is listening on port {port} of 127.0.0.1" in label.text()
    assert [c.ok for c, _ in others] == [None, None, None]
    assert all("the connection or the credentials failed" in c.sentence for c, _ in others)
    assert dialog.status_label.text() == "Credentials failed; see the results above."


def test_closing_during_a_test_drops_the_answer(qtbot, store, runner, bucket) -> None:
    dialog = AccountsDialog(store, runner, ClientFactory())
    qtbot.addWidget(dialog)
    dialog.show()
    type_into(qtbot, dialog.tester.bucket_edit, bucket)
    qtbot.mouseClick(dialog.tester.button, Qt.MouseButton.LeftButton)
    dialog.close()
    assert not dialog.isVisible()
    runner.pool.waitForDone(15000)
    qtbot.wait(50)  # let a queued answer (if any) arrive: it must be dropped
    assert dialog.tester.checks.rows == []
