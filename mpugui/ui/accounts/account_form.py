"""The account form: its name, the credentials (an AWS profile, or an access
key whose secret goes to the keyring), the endpoint and the store's quirks,
and TLS. Built a section a method; which rows show follows the choices (a
profile's rows or a key's, the session-only box without a keyring, the TLS
warning while checking is off). `values()` is what is typed; account_values
turns it into an Account."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import KEYS, PROFILE, Account
from mpugui.ui.accounts.account_values import FormValues
from mpugui.ui.accounts.check_list import BAD_COLOR, warning_label
from mpugui.ui.accounts.profile_chooser import ProfileChooser
from mpugui.ui.accounts.secret_keeping import is_stored, show_keyring_state


@lru_cache(maxsize=1)
def s3_regions() -> list[str]:
    import boto3  # local: only the completer needs botocore's region list

    return sorted(boto3.session.Session().get_available_regions("s3"))


class AccountForm(QGroupBox):
    changed = Signal()  # the user edited a field (not while fill() shows an account)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Account", parent)
        self._loading = False
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form = form

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. Work MinIO, Photos archive")
        form.addRow("&Name:", self.name_edit)
        self._add_credentials(form)
        self._add_endpoint(form)
        self._add_tls(form)

        for edit in (self.name_edit, self.key_id_edit, self.secret_edit, self.endpoint_edit,
                     self.region_edit, self.ca_edit):
            edit.textEdited.connect(self._edited)
        for check in (self.path_style_check, self.checksum_check, self.equal_parts_check,
                      self.session_only_check, self.verify_check, self.keys_radio):
            check.toggled.connect(self._edited)
        self.profiles.changed.connect(self._edited)
        self.keys_radio.toggled.connect(self.update_kind)
        self.verify_check.toggled.connect(self._update_tls)
        self.update_kind()

    # -- sections ---------------------------------------------------------------------

    def _add_credentials(self, form: QFormLayout) -> None:
        """A profile or an access key: the pair of choices, the profile row and
        its note, the key rows and where the secret is kept."""
        self.profile_radio = QRadioButton("AWS &profile")
        self.keys_radio = QRadioButton("Access &key")
        self.kind_group = QButtonGroup(self)
        self.kind_group.addButton(self.profile_radio)
        self.kind_group.addButton(self.keys_radio)
        self.profile_radio.setChecked(True)
        kind_row = QHBoxLayout()
        kind_row.addWidget(self.profile_radio)
        kind_row.addWidget(self.keys_radio)
        kind_row.addStretch(1)
        kind_label = QLabel("Credentials:")
        kind_label.setBuddy(self.profile_radio)
        form.addRow(kind_label, kind_row)

        self.profiles = ProfileChooser()
        self.profile_label = QLabel("Pro&file:")
        self.profile_label.setBuddy(self.profiles.combo)
        form.addRow(self.profile_label, self.profiles)
        form.addRow("", self.profiles.note)

        self.key_id_edit = QLineEdit()
        self.key_id_edit.setPlaceholderText("e.g. AKIAIOSFODNN7EXAMPLE")
        form.addRow("Access key &ID:", self.key_id_edit)
        self.secret_edit = QLineEdit()
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.setInputMethodHints(Qt.InputMethodHint.ImhHiddenText
                                             | Qt.InputMethodHint.ImhSensitiveData
                                             | Qt.InputMethodHint.ImhNoPredictiveText)
        form.addRow("S&ecret key:", self.secret_edit)
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.session_only_check = QCheckBox("Keep the secret for this session onl&y")
        form.addRow("", self.keyring_note)
        form.addRow("", self.session_only_check)

    def _add_endpoint(self, form: QFormLayout) -> None:
        """Endpoint URL, region, and the store's quirks (path style, checksums,
        equal parts)."""
        self.endpoint_edit = QLineEdit()
        self.endpoint_edit.setPlaceholderText(
            "Empty for Amazon S3 — e.g. https://minio.example.com:9000")
        form.addRow("En&dpoint URL:", self.endpoint_edit)
        self.region_edit = QLineEdit()
        self.region_edit.setPlaceholderText("e.g. eu-west-1 — empty: the profile's region")
        completer = QCompleter(s3_regions(), self.region_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.region_edit.setCompleter(completer)
        form.addRow("Re&gion:", self.region_edit)

        self.path_style_check = QCheckBox(
            "Pat&h-style addressing (MinIO, Ceph and most self-hosted stores)")
        form.addRow("", self.path_style_check)
        self.checksum_check = QCheckBox(
            "Checksum compatibi&lity: send checksums only where S3 requires them")
        self.checksum_check.setToolTip(
            "Some S3-compatible stores reject or mis-store the checksum headers that recent "
            "AWS SDKs and mpugui add to uploads. With this on, no checksum header goes that "
            "the store did not ask for (Content-MD5 only where S3 requires one), and uploads "
            "default to no per-part checksum. Amazon S3 does not need it.")
        form.addRow("", self.checksum_check)
        self.equal_parts_check = QCheckBox(
            "E&qual part sizes: the store requires every part but the last to be one size")
        self.equal_parts_check.setToolTip(
            "Uploads normally end with smaller parts so the last ones finish together. "
            "Cloudflare R2 rejects that (it is detected from the URL); turn this on for any "
            "other store that does.")
        form.addRow("", self.equal_parts_check)

    def _add_tls(self, form: QFormLayout) -> None:
        """CA bundle and certificate checking, with a warning while it is off."""
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText("Empty: the system's certificates")
        self.ca_browse = QPushButton("Bro&wse…")
        self.ca_browse.setAutoDefault(False)
        self.ca_browse.clicked.connect(self._browse_ca)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_browse)
        ca_label = QLabel("CA &bundle:")
        ca_label.setBuddy(self.ca_edit)
        form.addRow(ca_label, ca_row)
        self.verify_check = QCheckBox("&Verify TLS certificates")
        self.verify_check.setChecked(True)
        self.tls_warning = warning_label(
            "TLS certificates will not be checked: anyone on the network path could read "
            "and change the traffic, credentials included. Prefer a CA bundle.", BAD_COLOR)
        self.tls_warning.hide()
        verify_box = QVBoxLayout()
        verify_box.setSpacing(2)
        verify_box.addWidget(self.verify_check)
        verify_box.addWidget(self.tls_warning)
        form.addRow("", verify_box)

    # -- what is shown ------------------------------------------------------------------

    def fill(self, account: Account | None) -> None:
        """Show `account` (None: an empty new one)."""
        self._loading = True
        a = account or Account(name="")
        self.name_edit.setText(a.name)
        (self.keys_radio if a.kind == KEYS else self.profile_radio).setChecked(True)
        self.profiles.select(a.profile)
        self.key_id_edit.setText(a.access_key_id or "")
        self.secret_edit.clear()
        stored = account is not None and a.kind == KEYS and is_stored(a.name)
        self.secret_edit.setPlaceholderText(
            "Stored — leave empty to keep it" if stored else "The secret access key")
        self.session_only_check.setChecked(False)
        self.endpoint_edit.setText(a.endpoint_url or "")
        self.region_edit.setText(a.region or "")
        self.path_style_check.setChecked(a.path_style)
        self.checksum_check.setChecked(a.checksum_when_required)
        self.equal_parts_check.setChecked(a.equal_parts)
        self.ca_edit.setText(a.ca_bundle or "")
        self.verify_check.setChecked(a.verify_tls)
        self.update_kind()
        self._update_tls()
        self.profiles.update_note()
        self._loading = False

    def values(self) -> FormValues:
        return FormValues(
            name=self.name_edit.text().strip(),
            kind=KEYS if self.keys_radio.isChecked() else PROFILE,
            profile=self.profiles.current(),
            access_key_id=self.key_id_edit.text().strip(),
            secret=self.secret_edit.text().strip(),
            session_only=self.session_only_check.isChecked(),
            endpoint_url=self.endpoint_edit.text().strip(),
            region=self.region_edit.text().strip(),
            path_style=self.path_style_check.isChecked(),
            checksum_when_required=self.checksum_check.isChecked(),
            equal_parts=self.equal_parts_check.isChecked(),
            ca_bundle=self.ca_edit.text().strip(),
            verify_tls=self.verify_check.isChecked())

    def update_kind(self) -> None:
        """A key's rows or a profile's, and the keyring note."""
        keys = self.keys_radio.isChecked()
        for row_field in (self.key_id_edit, self.secret_edit, self.keyring_note):
            self.form.setRowVisible(self._row_of(row_field), keys)
        self.form.setRowVisible(self._row_of(self.profiles), not keys)
        self.form.setRowVisible(self._row_of(self.profiles.note), not keys)
        available = show_keyring_state(self.keyring_note)
        self.form.setRowVisible(self._row_of(self.session_only_check), keys and not available)

    def _update_tls(self) -> None:
        off = not self.verify_check.isChecked()
        self.tls_warning.setVisible(off)
        self.ca_edit.setEnabled(not off)
        self.ca_browse.setEnabled(not off)

    def _row_of(self, widget: QWidget) -> int:
        for row in range(self.form.rowCount()):
            item = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if item is None:
                continue
            if item.widget() is widget:
                return row
            layout = item.layout()
            if layout is not None and any(
                    (sub := layout.itemAt(i)) is not None and sub.widget() is widget
                    for i in range(layout.count())):
                return row
        raise LookupError(widget)

    def _edited(self) -> None:
        if not self._loading:
            self.changed.emit()

    def _browse_ca(self) -> None:
        start = str(Path(self.ca_edit.text()).parent) if self.ca_edit.text() else str(Path.home())
        dialog = QFileDialog(self, "Choose a CA bundle", start)
        dialog.setNameFilters(["Certificates (*.pem *.crt *.cer *.ca-bundle)", "All files (*)"])
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.fileSelected.connect(self._ca_chosen)
        dialog.open()

    def _ca_chosen(self, path: str) -> None:
        self.ca_edit.setText(path)
        self.changed.emit()
