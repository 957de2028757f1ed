"""The Accounts dialog: saved accounts on the left, the selected one's form
on the right, and "Test connection" underneath.

An account is an AWS profile (SSO included) or an access key whose secret
goes to keyring through AccountStore.save — never to QSettings, the journal,
logs or a command line. The pre-flight runs on the TaskRunner's pool; the
dialog is non-modal and every question it asks is a non-modal message box.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, PROFILE, Account, AccountStore
from mpugui.core.aws_profiles import (
    CONFIG,
    PROCESS,
    ROLE,
    SSO,
    WEB_IDENTITY,
    Profile,
    list_profiles,
)
from mpugui.core.aws_profiles import KEYS as PROFILE_KEYS
from mpugui.core.errors import MpuguiError, describe
from mpugui.core.preflight import Check, make_test_client, preflight
from mpugui.core.s3.endpoint import (
    ClientFactory,
    validate_ca_bundle,
    validate_endpoint_url,
    validate_region,
)
from mpugui.core.units import plural
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.accounts.account_list import AccountListModel, TwoLineDelegate
from mpugui.ui.accounts.check_list import (
    BAD_COLOR,
    WARN_COLOR,
    CheckList,
    test_summary,
    warning_label,
)
from mpugui.ui.common.icons import icon
from mpugui.ui.common.screen_fit import scrolled, size_to_screen

_KIND_WORDS = {SSO: "SSO", PROFILE_KEYS: "access key", ROLE: "role",
               PROCESS: "credential process", WEB_IDENTITY: "web identity",
               CONFIG: "settings only"}


@lru_cache(maxsize=1)
def s3_regions() -> list[str]:
    import boto3  # local: only the completer needs botocore's region list

    return sorted(boto3.session.Session().get_available_regions("s3"))


class AccountsDialog(QDialog):
    """List, add, edit, remove and test accounts. Non-modal."""

    accounts_changed = Signal()  # after a save or a removal

    def __init__(self, store: AccountStore, runner: TaskRunner, clients: ClientFactory,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.runner, self.clients = store, runner, clients
        self.setWindowTitle("Accounts — mpugui")
        self.setWindowIcon(icon("accounts"))
        self.setModal(False)
        # From the screen it opens on; the form scrolls, the buttons stay in view.
        size_to_screen(self, QSize(1000, 720), QSize(880, 640))
        self._editing: Account | None = None  # the saved account shown; None = new
        self._dirty = False
        self._loading = False
        self._test_task: int | None = None
        self._box: QMessageBox | None = None  # the open question, if any
        self._on_answer: Callable[[QMessageBox.StandardButton], None] | None = None
        self._profiles: list[Profile] = []
        self._build()
        self._reload_profiles()
        self._reload(select=None)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.model = AccountListModel(self)
        self.list_view = QListView()
        self.list_view.setModel(self.model)
        self.list_view.setItemDelegate(TwoLineDelegate(self.list_view))
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list_view.setUniformItemSizes(True)
        self.list_view.setMinimumWidth(240)
        self.list_view.setAccessibleName("Saved accounts")
        self.list_view.selectionModel().currentChanged.connect(self._current_changed)
        list_label = QLabel("Saved acc&ounts:")
        list_label.setBuddy(self.list_view)

        self.add_button = QPushButton(icon("add-file"), "&Add")
        self.add_button.setToolTip("Add a new account")
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_button = QPushButton(icon("remove"), "Re&move…")
        self.remove_button.setToolTip("Remove the selected account and its stored secret")
        self.remove_button.clicked.connect(self._ask_remove)
        left_buttons = QHBoxLayout()
        left_buttons.addWidget(self.add_button)
        left_buttons.addWidget(self.remove_button)
        left_buttons.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(list_label)
        left_layout.addWidget(self.list_view, 1)
        left_layout.addLayout(left_buttons)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self._build_form())
        right_layout.addWidget(self._build_test(), 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 680])
        splitter.setChildrenCollapsible(False)

        self.error_label = warning_label("", BAD_COLOR)
        self.error_label.setAccessibleName("Problem")
        self.error_label.hide()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.save_button = QPushButton("&Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("&Revert")
        self.revert_button.setToolTip("Forget the changes not saved yet")
        self.revert_button.clicked.connect(self._revert)
        self.close_button = QPushButton("&Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)

        outer = QVBoxLayout(self)
        outer.addWidget(scrolled(splitter), 1)
        outer.addWidget(self.error_label)
        outer.addLayout(buttons)

    def _build_form(self) -> QGroupBox:
        """The account's fields, a section a method, and what each change updates."""
        box = QGroupBox("Account")
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        form = QFormLayout(box)
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
            edit.textEdited.connect(self._changed)
        for check in (self.path_style_check, self.checksum_check, self.equal_parts_check,
                      self.session_only_check, self.verify_check, self.keys_radio):
            check.toggled.connect(self._changed)
        self.profile_combo.currentIndexChanged.connect(self._changed)
        self.profile_combo.currentIndexChanged.connect(self._update_profile_note)
        self.keys_radio.toggled.connect(self._update_kind)
        self.verify_check.toggled.connect(self._update_tls)
        self._update_kind()
        return box

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

        self.profile_combo = QComboBox()
        self.profile_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.profile_combo.setMinimumContentsLength(24)
        self.reload_profiles_button = QPushButton(icon("retry"), "")
        self.reload_profiles_button.setToolTip("Read the AWS config files again")
        self.reload_profiles_button.setAccessibleName("Reload profiles")
        self.reload_profiles_button.clicked.connect(self._reload_profiles)
        profile_row = QHBoxLayout()
        profile_row.addWidget(self.profile_combo, 1)
        profile_row.addWidget(self.reload_profiles_button)
        self.profile_label = QLabel("Pro&file:")
        self.profile_label.setBuddy(self.profile_combo)
        form.addRow(self.profile_label, profile_row)
        self.profile_note = QLabel()
        self.profile_note.setEnabled(False)  # muted, like a hint
        form.addRow("", self.profile_note)

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

    def _build_test(self) -> QGroupBox:
        box = QGroupBox("Test connection")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.test_bucket_edit = QLineEdit()
        self.test_bucket_edit.setPlaceholderText("optional — tests reachability and permissions")
        bucket_label = QLabel("B&ucket to test:")
        bucket_label.setBuddy(self.test_bucket_edit)
        self.test_button = QPushButton(icon("retry"), "&Test connection")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.test_connection)
        self.test_progress = QProgressBar()
        self.test_progress.setRange(0, 0)
        self.test_progress.setMaximumWidth(90)
        self.test_progress.setTextVisible(False)
        self.test_progress.hide()
        row.addWidget(bucket_label)
        row.addWidget(self.test_bucket_edit, 1)
        row.addWidget(self.test_progress)
        row.addWidget(self.test_button)
        layout.addLayout(row)
        self.checks = CheckList()
        hint = QLabel("Checks that the credentials work, the bucket answers, and that "
                      "in-progress uploads may be listed (to resume) and aborted (to cancel). "
                      "Nothing is written to the bucket.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        self.test_hint = hint
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        # The results scroll, so a small window squeezes them, not the form.
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        holder_layout.addWidget(self.checks)
        holder_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(holder)
        # setWidget() turns background filling on; the results sit on the
        # group box's own background like the rest of the form.
        holder.setAutoFillBackground(False)
        scroll.viewport().setAutoFillBackground(False)
        scroll.setMinimumHeight(60)
        layout.addWidget(hint)
        layout.addWidget(line)
        layout.addWidget(scroll, 1)
        return box

    # ------------------------------------------------------------ form state
    def _reload_profiles(self) -> None:
        listing = list_profiles()
        self._profiles = listing.profiles
        current = self.profile_combo.currentData() if self.profile_combo.count() else None
        self._loading, was_loading = True, self._loading
        self.profile_combo.clear()
        self.profile_combo.addItem("Default credential chain (environment, AWS_PROFILE, "
                                   "instance role…)", None)
        for p in self._profiles:
            self.profile_combo.addItem(icon("accounts"), f"{p.name}  ({_KIND_WORDS[p.kind]})",
                                       p.name)
        self._select_profile(current)
        self._loading = was_loading
        self._profiles_problem = listing.problem
        self._update_profile_note()

    def _select_profile(self, name: str | None) -> None:
        index = self.profile_combo.findData(name)
        if index < 0 and name:
            # Keep an account's profile visible even if the config lost it.
            self.profile_combo.addItem(f"{name} (not in the AWS config)", name)
            index = self.profile_combo.count() - 1
        self.profile_combo.setCurrentIndex(max(0, index))

    def _update_profile_note(self) -> None:
        # One line, no wrapping: a wrapped label in a form reserves more
        # height than it uses. The longer advice goes to the tooltip.
        name = self.profile_combo.currentData()
        profile = next((p for p in self._profiles if p.name == name), None)
        tip = ""
        if getattr(self, "_profiles_problem", None):
            text = tip = self._profiles_problem or ""
        elif profile is None and name:
            text = f"The profile '{name}' is not in the AWS config files."
        elif profile is None:
            text = (f"Environment variables, then the default profile "
                    f"({plural(len(self._profiles), 'profile')} found).")
            tip = ("The standard AWS chain: AWS_ACCESS_KEY_ID / AWS_PROFILE, the default "
                   "profile, SSO, then an instance or container role.")
        else:
            text = profile.detail
            if profile.region:
                text += f" · region {profile.region}"
            if profile.kind == SSO:
                tip = f"If the sign-in has expired, run: aws sso login --profile {profile.name}"
        self.profile_note.setText(text)
        self.profile_note.setToolTip(tip)

    def _update_kind(self) -> None:
        keys = self.keys_radio.isChecked()
        for row_field in (self.key_id_edit, self.secret_edit, self.keyring_note):
            self.form.setRowVisible(self._row_of(row_field), keys)
        self.form.setRowVisible(self._row_of(self.profile_combo), not keys)
        self.form.setRowVisible(self._row_of(self.profile_note), not keys)
        available = secrets.keyring_available()
        if available:
            self.keyring_note.setText("The secret key is stored in the system keyring, "
                                      "never in mpugui's files.")
            self.keyring_note.setStyleSheet("")
            self.keyring_note.setEnabled(False)
            self.keyring_note.setWordWrap(False)  # one line; wrapping reserves two
            self.keyring_note.setMinimumHeight(0)
        else:
            self.keyring_note.setText(
                "No system keyring is available here (common on headless Linux), so the "
                "secret key cannot be stored. It can be kept in memory for this session "
                "only; you will have to enter it again after mpugui restarts.")
            self.keyring_note.setStyleSheet(f"color: {WARN_COLOR};")
            self.keyring_note.setEnabled(True)
            self.keyring_note.setWordWrap(True)
            # A form gives a wrapped label the height of its hint width;
            # reserve three lines so a narrow window never clips the warning.
            self.keyring_note.setMinimumHeight(self.keyring_note.fontMetrics().lineSpacing() * 3)
        self.form.setRowVisible(self._row_of(self.session_only_check), keys and not available)

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

    def _update_tls(self) -> None:
        off = not self.verify_check.isChecked()
        self.tls_warning.setVisible(off)
        self.ca_edit.setEnabled(not off)
        self.ca_browse.setEnabled(not off)

    def _changed(self) -> None:
        if not self._loading:
            self._dirty = True
            self._update_buttons()

    def _update_buttons(self) -> None:
        self.revert_button.setEnabled(self._dirty)
        self.remove_button.setEnabled(self._editing is not None)
        self.status_label.setText(
            "Unsaved changes." if self._dirty else
            ("New account — fill in the form and save." if self._editing is None else ""))

    def _fill(self, account: Account | None) -> None:
        """Show `account` (None: an empty new one) in the form."""
        self._loading = True
        a = account or Account(name="")
        self._editing = account
        self.name_edit.setText(a.name)
        (self.keys_radio if a.kind == KEYS else self.profile_radio).setChecked(True)
        self._select_profile(a.profile)
        self.key_id_edit.setText(a.access_key_id or "")
        self.secret_edit.clear()
        stored = account is not None and a.kind == KEYS and secrets.get_secret(a.name)
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
        self._update_kind()
        self._update_tls()
        self._update_profile_note()
        self._dirty = False
        self._loading = False
        self.checks.clear()
        self._show_error("")
        self._update_buttons()

    def _reload(self, select: str | None) -> None:
        try:
            accounts = self.store.load()
        except MpuguiError as exc:
            accounts = []
            self._show_error(str(exc))
        self.model.set_accounts(accounts)
        row = self.model.row_of(select) if select else (0 if accounts else -1)
        if row >= 0:
            self._select_row(row)
            self._fill(self.model.accounts()[row])
        else:
            self._fill(None)
            self.name_edit.setFocus()

    def _select_row(self, row: int) -> None:
        sel = self.list_view.selectionModel()
        sel.blockSignals(True)
        if row < 0:
            sel.clear()
        else:
            index = self.model.index(row, 0)
            sel.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        sel.blockSignals(False)
        self.list_view.viewport().update()

    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if not current.isValid():
            return
        account = current.data(AccountListModel.AccountRole)
        if self._editing is not None and account.name == self._editing.name:
            return
        # Go back until the question about unsaved changes is answered.
        self._select_row(previous.row() if previous.isValid() else -1)

        def go_on() -> None:
            self._select_row(self.model.row_of(account.name))
            self._fill(account)
        self._guard(go_on)

    def _new_account(self) -> None:
        self._select_row(-1)
        self._fill(None)
        self.name_edit.setFocus()

    def _revert(self) -> None:
        self._fill(self._editing)

    def _show_error(self, sentence: str) -> None:
        self.error_label.setText(sentence)
        self.error_label.setVisible(bool(sentence))

    # ------------------------------------------------------------- questions
    def _ask(self, text: str, informative: str, buttons: QMessageBox.StandardButton,
             on_answer: Callable[[QMessageBox.StandardButton], None],
             default: QMessageBox.StandardButton) -> QMessageBox:
        """A window-modal question that does not block; the answer arrives
        later through `on_answer`."""
        box = QMessageBox(QMessageBox.Icon.Question, "mpugui", text, buttons, self)
        box.setInformativeText(informative)
        box.setDefaultButton(default)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        # Bound methods rather than closures: PySide 6.12 crashed when a
        # deleted widget's signal still held a lambda.
        box.buttonClicked.connect(self._box_answered)
        box.finished.connect(self._box_finished)
        self._box, self._on_answer = box, on_answer
        box.open()
        return box

    def _box_answered(self, button: Any) -> None:
        box, on_answer = self._box, self._on_answer
        self._box, self._on_answer = None, None
        if box is not None and on_answer is not None:
            on_answer(box.standardButton(button))

    def _box_finished(self) -> None:
        if self.sender() is self._box:  # not a newer question asked meanwhile
            self._box, self._on_answer = None, None

    def _add_clicked(self) -> None:
        self._guard(self._new_account)

    def _guard(self, then: Callable[[], Any]) -> None:
        """Run `then` now, or after asking what to do with unsaved changes."""
        if not self._dirty:
            then()
            return
        B = QMessageBox.StandardButton
        name = self.name_edit.text().strip() or "the new account"

        def answer(button: QMessageBox.StandardButton) -> None:
            if button == B.Save and self.save():
                then()
            elif button == B.Discard:
                self._dirty = False
                then()

        self._ask(f"Save the changes to {name}?", "Unsaved changes are lost otherwise.",
                  B.Save | B.Discard | B.Cancel, answer, B.Save)

    def _ask_remove(self) -> None:
        account = self._editing
        if account is None:
            return
        B = QMessageBox.StandardButton
        extra = " Its secret key is deleted from the keyring." if account.kind == KEYS else ""
        self._ask(f"Remove the account '{account.name}'?",
                  "Transfers that use it stay in the list but cannot resume until an account "
                  f"with this name exists again.{extra}",
                  B.Yes | B.No, lambda b: self.remove(account.name) if b == B.Yes else None,
                  B.No)

    def remove(self, name: str) -> None:
        try:
            account = self.store.get(name)
            self.store.delete(name)
        except (MpuguiError, OSError) as exc:
            self._show_error(describe(exc))
            return
        self.clients.forget(account.endpoint())
        self._dirty = False
        self._reload(select=None)
        self.status_label.setText(f"Removed '{name}'.")
        self.accounts_changed.emit()

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
        self._changed()

    # ------------------------------------------------------------ validation
    def collect(self, *, for_test: bool = False) -> tuple[Account, str | None, bool]:
        """The form as (account, secret or None to keep, session_only), or
        MpuguiError with a sentence saying what to fix."""
        name = self.name_edit.text().strip()
        if not name and not for_test:
            raise MpuguiError("Give the account a name.")
        old_name = self._editing.name if self._editing else None
        if not for_test and name != old_name and self.model.row_of(name) >= 0:
            raise MpuguiError(f"There is already an account named '{name}'. "
                              "Choose another name.")
        kind = KEYS if self.keys_radio.isChecked() else PROFILE
        profile = self.profile_combo.currentData() if kind == PROFILE else None
        if profile and all(p.name != profile for p in self._profiles):
            raise MpuguiError(f"The AWS profile '{profile}' is not in the AWS config files. "
                              "Choose another profile or reload the list.")
        key_id = self.key_id_edit.text().strip() if kind == KEYS else ""
        secret: str | None = self.secret_edit.text().strip() or None if kind == KEYS else None
        session_only = False
        if kind == KEYS:
            if not key_id:
                raise MpuguiError("Enter the access key ID.")
            if re.search(r"\s", key_id):
                raise MpuguiError("The access key ID cannot contain spaces.")
            if secret is None and not (old_name and secrets.get_secret(old_name)):
                raise MpuguiError("Enter the secret key: none is stored for this account.")
            if secret is not None and not secrets.keyring_available():
                if not self.session_only_check.isChecked() and not for_test:
                    raise MpuguiError(
                        "No system keyring is available, so the secret key cannot be stored. "
                        "Tick “Keep the secret for this session only”, or use an AWS profile.")
                session_only = True
        endpoint_url = self.endpoint_edit.text().strip().rstrip("/")
        validate_endpoint_url(endpoint_url or None)
        region = self.region_edit.text().strip()
        validate_region(region)
        verify = self.verify_check.isChecked()
        ca = self.ca_edit.text().strip() if verify else ""
        validate_ca_bundle(ca)
        account = Account(
            name=name or "(testing)", kind=kind, profile=profile,
            access_key_id=key_id or None, endpoint_url=endpoint_url or None,
            region=region or None, path_style=self.path_style_check.isChecked(),
            checksum_when_required=self.checksum_check.isChecked(),
            equal_parts=self.equal_parts_check.isChecked(),
            ca_bundle=str(Path(ca).expanduser()) if ca else None, verify_tls=verify)
        return account, secret, session_only

    # ------------------------------------------------------------------ save
    def save(self) -> bool:
        """Store the form; True when saved. Problems become a sentence."""
        try:
            account, secret, session_only = self.collect()
        except MpuguiError as exc:
            self._show_error(str(exc))
            return False
        old = self._editing
        try:
            if old is not None and old.name != account.name and account.kind == KEYS \
                    and secret is None:
                secret = secrets.get_secret(old.name)  # the secret moves with the rename
                session_only = not secrets.keyring_available()
            self.store.save(account, secret, session_only=session_only)
            if old is not None and old.name != account.name:
                self.store.delete(old.name)
            elif old is not None and old.kind == KEYS and account.kind == PROFILE:
                secrets.delete_secret(account.name)  # no longer used by anything
        except secrets.KeyringUnavailable as exc:
            self._show_error(str(exc) + " Tick “Keep the secret for this session only”.")
            return False
        except Exception as exc:  # keyring backends raise their own errors
            self._show_error(f"The account could not be saved: {describe(exc)}")
            return False
        # Cached clients hold the old settings and credentials: rebuild them.
        if old is not None:
            self.clients.forget(old.endpoint())
        self.clients.forget(account.endpoint())
        self._dirty = False
        self._reload(select=account.name)
        where = " (secret kept for this session only)" if session_only else ""
        self.status_label.setText(f"Saved '{account.name}'{where}.")
        self.accounts_changed.emit()
        return True

    # ------------------------------------------------------------------ test
    def test_connection(self) -> None:
        try:
            account, secret, _ = self.collect(for_test=True)
        except MpuguiError as exc:
            self.checks.set_checks([Check("Account", False, str(exc))])
            return
        if account.kind == KEYS and secret is None and self._editing is not None:
            secret = secrets.get_secret(self._editing.name)
        endpoint = account.endpoint()
        bucket = self.test_bucket_edit.text().strip() or None

        def work() -> list[Check]:  # on the runner's pool
            return preflight(make_test_client(endpoint, secret), bucket)

        if self._test_task is not None:
            self.runner.forget(self._test_task)
        self.test_button.setEnabled(False)
        self.test_progress.show()
        self.checks.set_checks([])
        self.status_label.setText("Testing the connection…")
        self._test_task = self.runner.run(work, self._tested, self._test_failed)

    def _tested(self, checks: list[Check]) -> None:
        if not shiboken6.isValid(self):
            return
        self._test_task = None
        self.test_button.setEnabled(True)
        self.test_progress.hide()
        self.checks.set_checks(checks)
        self.status_label.setText(test_summary(checks))

    def _test_failed(self, exc: BaseException) -> None:
        self._tested([Check("Connection", False, describe(exc))])

    # --------------------------------------------------------------- closing
    def reject(self) -> None:
        """Close (Escape, the Close button, the title bar), asking first
        about unsaved changes."""
        self._guard(super().reject)

    def done(self, result: int) -> None:
        if self._test_task is not None:
            self.runner.forget(self._test_task)  # the answer would come to a closed dialog
            self._test_task = None
            self.test_button.setEnabled(True)
            self.test_progress.hide()
        if self._box is not None:
            self._box.close()
            self._box = None
        super().done(result)
