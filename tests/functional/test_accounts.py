"""Accounts: AWS profiles listed from real config files (SSO included), the
Accounts dialog storing a secret through the in-memory keyring backend, and
no secret anywhere under MPUGUI_HOME after a real upload with that account."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailKeyring
from keyring.backends.null import Keyring as NullKeyring
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, PROFILE, Account, AccountStore
from mpugui.core.aws_profiles import KEYS as PROFILE_KEYS
from mpugui.core.aws_profiles import ROLE, SSO, list_profiles
from mpugui.core.paths import state_dir
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.engine.engine import UploadRequest
from mpugui.ui.accounts.account_list import AccountListModel
from mpugui.ui.accounts.dialog import AccountsDialog
from mpugui.ui.destination.dialog import DestinationDialog
from tests.conftest import make_file

CONFIG = """\
[default]
region = us-east-1

[profile dev-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer
region = eu-west-1

[profile legacy-sso]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile deployer]
role_arn = arn:aws:iam::111122223333:role/deploy
source_profile = default

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
"""
CREDENTIALS = """\
[default]
aws_access_key_id = AKIADEFAULTDEFAULT00
aws_secret_access_key = credfile-secret-default

[minio]
aws_access_key_id = minioadmin
aws_secret_access_key = credfile-secret-minio
"""


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config, creds = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(CONFIG)
    creds.write_text(CREDENTIALS)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    return tmp_path


@pytest.fixture
def store() -> AccountStore:
    return AccountStore()


def open_dialog(qtbot, store, runner, clients=None) -> AccountsDialog:
    dialog = AccountsDialog(store, runner, clients or ClientFactory())
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def type_into(qtbot, edit: QLineEdit, text: str) -> None:
    """Replace the text the way a person does (textEdited fires)."""
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def tick(qtbot, button) -> None:
    """Click a check box or radio button on its indicator (a click in the
    blank part of a wide row is not a click on the button)."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


# ------------------------------------------------------------------ profiles
def test_profiles_from_the_aws_files_include_sso(aws_files: Path) -> None:
    listing = list_profiles()
    assert listing.problem is None
    by = {p.name: p for p in listing.profiles}
    assert listing.profiles[0].name == "default"
    assert set(by) == {"default", "dev-sso", "legacy-sso", "deployer", "minio"}
    assert by["dev-sso"].kind == SSO and by["dev-sso"].region == "eu-west-1"
    assert "session corp" in by["dev-sso"].detail and "Developer" in by["dev-sso"].detail
    assert by["legacy-sso"].kind == SSO
    assert "legacy.awsapps.com" in by["legacy-sso"].detail
    assert by["deployer"].kind == ROLE
    assert by["minio"].kind == PROFILE_KEYS
    # Secret keys from the credentials file never travel with a Profile.
    assert "credfile-secret" not in repr(listing)


def test_malformed_config_is_a_sentence(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "broken-config"
    bad.write_text("[profile x\nregion = nowhere\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(bad))
    listing = list_profiles()
    assert listing.profiles == []
    assert listing.problem and listing.problem.startswith("The AWS config files cannot be read")


def test_profile_account_from_the_dialog(qtbot, aws_files, store, runner) -> None:
    dialog = open_dialog(qtbot, store, runner)
    combo = dialog.form.profiles.combo
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert "dev-sso  (SSO)" in labels and "legacy-sso  (SSO)" in labels
    assert "deployer  (role)" in labels and "minio  (access key)" in labels
    type_into(qtbot, dialog.form.name_edit, "Corp SSO")
    dialog.form.profiles.combo.setCurrentIndex(dialog.form.profiles.combo.findData("dev-sso"))
    assert "aws sso login --profile dev-sso" in dialog.form.profiles.note.toolTip()
    assert "region eu-west-1" in dialog.form.profiles.note.text()
    assert not dialog.form.key_id_edit.isVisible()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    saved = store.get("Corp SSO")
    assert (saved.kind, saved.profile, saved.access_key_id) == (PROFILE, "dev-sso", None)
    assert dialog.status_label.text() == "Saved 'Corp SSO'."


# ------------------------------------------------------------------- secrets
def test_secret_goes_to_keyring_only_and_works_end_to_end(
        qtbot, isolated_env, store, runner, moto_url, bucket, engine_factory,
        tmp_path, caplog) -> None:
    secret = f"S3cr3t-{uuid.uuid4().hex}"
    dialog = open_dialog(qtbot, store, runner)
    with qtbot.waitSignal(dialog.accounts_changed, timeout=5000):
        type_into(qtbot, dialog.form.name_edit, "Work store")
        tick(qtbot, dialog.form.keys_radio)
        type_into(qtbot, dialog.form.key_id_edit, "AKIAWORKWORKWORK0001")
        type_into(qtbot, dialog.form.secret_edit, secret)
        type_into(qtbot, dialog.form.endpoint_edit, moto_url)
        type_into(qtbot, dialog.form.region_edit, "us-east-1")
        tick(qtbot, dialog.form.path_style_check)
        tick(qtbot, dialog.form.equal_parts_check)
        assert dialog.form.secret_edit.echoMode() == QLineEdit.EchoMode.Password
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert isolated_env.store[("mpugui", "Work store")] == secret
    account = store.get("Work store")
    assert (account.kind, account.access_key_id, account.path_style, account.equal_parts) == (
        KEYS, "AKIAWORKWORKWORK0001", True, True)
    assert dialog.form.secret_edit.text() == ""
    assert "Stored" in dialog.form.secret_edit.placeholderText()

    # The saved account tests fine with the secret read back from keyring.
    type_into(qtbot, dialog.tester.bucket_edit, bucket)
    qtbot.mouseClick(dialog.tester.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.tester.checks.rows) == 4, timeout=15000)
    assert all(check.ok for check, _ in dialog.tester.checks.rows), dialog.tester.checks.rows
    assert dialog.status_label.text() == "All 4 checks passed."

    # Choose it as a destination and upload a real file through the engine.
    src = make_file(tmp_path / "data" / "notes.bin", 6 * 1024 * 1024, seed=3)
    dest_dialog = DestinationDialog(store, runner, ClientFactory(), [str(src)])
    qtbot.addWidget(dest_dialog)
    dest_dialog.account_combo.setCurrentIndex(dest_dialog.account_combo.findData("Work store"))
    qtbot.waitUntil(lambda: dest_dialog.bucket_combo.findText(bucket) >= 0, timeout=15000)
    dest_dialog.bucket_combo.setCurrentText(bucket)
    qtbot.waitUntil(lambda: dest_dialog.upload_button.isEnabled(), timeout=15000)
    with qtbot.waitSignal(dest_dialog.accepted_destination, timeout=5000) as got:
        qtbot.mouseClick(dest_dialog.upload_button, Qt.MouseButton.LeftButton)
    dest = got.args[0]
    assert dest.endpoint.needs_equal_parts()  # the account's store quirk reaches the engine
    engine = engine_factory()
    tid = engine.add(UploadRequest(str(src), dest.bucket, dest.prefix + "notes.bin",
                                   dest.endpoint, checksum=dest.checksum))

    def finished() -> bool:
        return any(t.id == tid and t.state == "done"
                   for t in engine.current_snapshot().table.values())

    qtbot.waitUntil(finished, timeout=30000)

    home = state_dir()
    names = {p.name for p in home.rglob("*") if p.is_file()}
    assert {"accounts.json", "mpugui.ini", "journal.sqlite3"} <= names
    assert files_containing(home, secret) == []
    assert secret not in caplog.text
    assert secret not in " ".join(os.environ.values())


@pytest.mark.parametrize("backend", [FailKeyring, NullKeyring])
def test_no_keyring_offers_session_only(qtbot, store, runner, backend) -> None:
    import keyring

    # No backend at all, or the null one that keeps nothing it is given.
    keyring.set_keyring(backend())  # the isolated_env fixture restores it
    assert not secrets.keyring_available()
    dialog = open_dialog(qtbot, store, runner)
    tick(qtbot, dialog.form.keys_radio)
    assert "No system keyring is available" in dialog.form.keyring_note.text()
    assert dialog.form.session_only_check.isVisible()
    type_into(qtbot, dialog.form.name_edit, "Headless")
    type_into(qtbot, dialog.form.key_id_edit, "AKIAHEADLESSHEAD0001")
    secret = f"session-{uuid.uuid4().hex}"
    type_into(qtbot, dialog.form.secret_edit, secret)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "Keep the secret for this session only" in dialog.error_label.text()
    assert [a.name for a in store.load()] == []

    tick(qtbot, dialog.form.session_only_check)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    try:
        assert store.get("Headless").access_key_id == "AKIAHEADLESSHEAD0001"
        assert secrets.get_secret("Headless") == secret
        assert "session only" in dialog.status_label.text()
        assert files_containing(state_dir(), secret) == []
    finally:
        secrets.delete_secret("Headless")  # the session-only store is process-wide


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(("field", "value", "sentence"), [
    ("name_edit", "", "Give the account a name."),
    ("endpoint_edit", "minio.local:9000", "is not a valid endpoint URL"),
    ("endpoint_edit", "http://minio.local:port", "The port in the endpoint URL"),
    ("region_edit", "eu west 1", "is not a region name"),
    ("region_edit", "us_east_1", "'us_east_1' is not a region name; it looks like eu-west-1."),
    ("ca_edit", "/nonexistent/ca.pem", "The CA bundle '/nonexistent/ca.pem' is not a file."),
    ("ca_edit", __file__, f"The CA bundle '{__file__}' holds no PEM certificate"),
])
def test_invalid_input_is_explained(qtbot, store, runner, field, value, sentence) -> None:
    dialog = open_dialog(qtbot, store, runner)
    type_into(qtbot, dialog.form.name_edit, "Valid name")
    type_into(qtbot, getattr(dialog.form, field), value)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert sentence in dialog.error_label.text()
    assert dialog.error_label.isVisible()
    assert store.load() == []
    dialog._dirty = False  # close without the "save changes?" question


def test_access_key_needs_id_and_secret_and_unique_name(qtbot, store, runner) -> None:
    store.save(Account("Taken"))
    dialog = open_dialog(qtbot, store, runner)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    type_into(qtbot, dialog.form.name_edit, "Taken")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "There is already an account named 'Taken'" in dialog.error_label.text()
    type_into(qtbot, dialog.form.name_edit, "Fresh")
    tick(qtbot, dialog.form.keys_radio)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.text() == "Enter the access key ID."
    type_into(qtbot, dialog.form.key_id_edit, "AKIAFRESHFRESH000001")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "Enter the secret key" in dialog.error_label.text()
    assert [a.name for a in store.load()] == ["Taken"]
    dialog._dirty = False


def test_turning_tls_verification_off_is_warned(qtbot, store, runner) -> None:
    dialog = open_dialog(qtbot, store, runner)
    assert dialog.form.verify_check.isChecked() and not dialog.form.tls_warning.isVisible()
    tick(qtbot, dialog.form.verify_check)
    assert dialog.form.tls_warning.isVisible()
    assert "will not be checked" in dialog.form.tls_warning.text()
    assert not dialog.form.ca_edit.isEnabled()
    type_into(qtbot, dialog.form.name_edit, "Lab")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert store.get("Lab").verify_tls is False
    assert "TLS not verified" in dialog.model.index(0, 0).data(AccountListModel.DetailRole)


# ------------------------------------------------------------- edit / remove
def test_rename_moves_the_secret_and_rebuilds_clients(qtbot, isolated_env, store, runner,
                                                      moto_url) -> None:
    store.save(Account("Old name", KEYS, access_key_id="AKIAOLDOLDOLDOLD0001",
                       endpoint_url=moto_url), secret="moved-secret")
    clients = ClientFactory()
    before = clients.client(store.get("Old name").endpoint())
    dialog = open_dialog(qtbot, store, runner, clients)
    assert dialog.form.name_edit.text() == "Old name"
    type_into(qtbot, dialog.form.name_edit, "New name")
    type_into(qtbot, dialog.form.region_edit, "eu-central-1")
    assert dialog.revert_button.isEnabled()
    with qtbot.waitSignal(dialog.accounts_changed, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert [a.name for a in store.load()] == ["New name"]
    assert isolated_env.store == {("mpugui", "New name"): "moved-secret"}
    assert clients.client(store.get("New name").endpoint()) is not before
    # The old endpoint's cached client was dropped too.
    old_endpoint = Account("Old name", KEYS, access_key_id="AKIAOLDOLDOLDOLD0001",
                           endpoint_url=moto_url).endpoint()
    assert old_endpoint not in clients._clients


def test_unsaved_changes_are_asked_about(qtbot, store, runner) -> None:
    store.save(Account("Alpha"))
    store.save(Account("Beta"))
    dialog = open_dialog(qtbot, store, runner)
    assert dialog.form.name_edit.text() == "Alpha"
    type_into(qtbot, dialog.form.region_edit, "eu-west-3")
    dialog.list_view.setCurrentIndex(dialog.model.index(1, 0))
    box = dialog._box
    assert box is not None and "Save the changes to Alpha?" in box.text()
    assert dialog.form.name_edit.text() == "Alpha"  # nothing switched yet
    box.button(QMessageBox.StandardButton.Save).click()
    assert store.get("Alpha").region == "eu-west-3"
    assert dialog.form.name_edit.text() == "Beta"


def test_remove_asks_then_deletes_account_and_secret(qtbot, isolated_env, store,
                                                     runner) -> None:
    store.save(Account("Gone", KEYS, access_key_id="AKIAGONEGONEGONE0001"), secret="bye")
    dialog = open_dialog(qtbot, store, runner)
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    box = dialog._box
    assert box is not None and "Remove the account 'Gone'?" in box.text()
    with qtbot.waitSignal(dialog.accounts_changed, timeout=5000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert store.load() == []
    assert isolated_env.store == {}
    assert dialog.model.rowCount() == 0


def test_account_list_model(qtmodeltester, store) -> None:
    store.save(Account("b-profile", profile="dev"))
    store.save(Account("a-keys", KEYS, access_key_id="AKIAMODELMODEL000001",
                       endpoint_url="https://minio.example.com:9000", path_style=True))
    model = AccountListModel()
    model.set_accounts(store.load())
    qtmodeltester.check(model)
    assert [model.index(r, 0).data() for r in range(2)] == ["a-keys", "b-profile"]
    detail = model.index(0, 0).data(AccountListModel.DetailRole)
    assert detail == ("Access key AKIA…0001 · https://minio.example.com:9000 · path-style")
    assert model.index(1, 0).data(AccountListModel.DetailRole) == \
        "AWS profile dev · Amazon S3"
