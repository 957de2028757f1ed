"""The destination dialog: where dropped files go, and how.

Account, bucket (listed off the GUI thread, typed by hand when ListBuckets is
denied), prefix, storage class, checksum, overwrite policy, whether to skip
files already in the bucket, part size and concurrency. The key names are
shown before anything starts. The last choice is remembered per account in
QSettings — never a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import shiboken6
from PySide6.QtCore import (
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError, describe, error_code
from mpugui.core.options import parse_part_size
from mpugui.core.s3.checksums import ALGORITHMS, DEFAULT_ALGORITHM, default_for
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.s3.plan import MAX_PINNED_CONCURRENCY
from mpugui.core.s3.uri import bucket_name_problem
from mpugui.core.units import MiB, format_bytes
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.accounts.check_list import BAD_COLOR, WARN_COLOR, warning_label
from mpugui.ui.common.icons import icon
from mpugui.ui.common.screen_fit import scrolled, size_to_screen
from mpugui.ui.common.settings import open_settings
from mpugui.ui.destination.key_preview import KeyPreviewModel, Row, walk_sources

DEFAULT_ACCOUNT = ""  # the combo's data for the standard AWS credential chain
DEFAULT_ACCOUNT_LABEL = "AWS default credentials"

STORAGE_CLASSES: list[tuple[str | None, str]] = [
    (None, "Bucket default"),
    ("STANDARD", "Standard"),
    ("INTELLIGENT_TIERING", "Intelligent-Tiering"),
    ("STANDARD_IA", "Standard-IA (infrequent access)"),
    ("ONEZONE_IA", "One Zone-IA"),
    ("GLACIER_IR", "Glacier Instant Retrieval"),
    ("GLACIER", "Glacier Flexible Retrieval"),
    ("DEEP_ARCHIVE", "Glacier Deep Archive"),
]
CHECKSUM_LABELS = {
    "crc32c": "CRC32C — fast, computed in hardware",
    "crc32": "CRC32",
    "sha256": "SHA-256 — slower",
    "md5": "MD5 (Content-MD5) — for stores without newer checksums",
    "none": "None — no per-part integrity check",
}
PART_SIZES = [8 * MiB, 16 * MiB, 32 * MiB, 64 * MiB, 128 * MiB, 256 * MiB, 512 * MiB,
              1024 * MiB]
SKIP_EXISTING_TIP = (
    "Before uploading, the destination is looked up once (the prefix is listed, or "
    "each key asked when there are only a few files). A file is skipped when an object "
    "with its key has the same size and the same content: the ETag this app recorded "
    "when it uploaded the file, or the file's MD5 or multipart ETag computed here. "
    "Files that cannot be compared this way are uploaded.")


@dataclass(frozen=True)
class Destination:
    endpoint: Endpoint
    bucket: str
    prefix: str  # "" or ends with "/"
    storage_class: str | None
    checksum: str | None
    no_overwrite: bool
    part_size: int | None  # None: planned automatically
    concurrency: int | None  # None: the engine's setting
    # Skip files whose object already exists with the same size and content
    # (mpugui.core.transfer.existing decides).
    skip_existing: bool = False

    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def normalize_prefix(text: str) -> str:
    """What a person types as a folder, as a key prefix: no leading '/',
    one trailing '/' (so a single file keeps its name), or empty."""
    prefix = text.strip().lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def bucket_problem(name: str) -> str | None:
    if not name:
        return "Choose a bucket, or type its name."
    return bucket_name_problem(name)


def _add_combo_row(form: QFormLayout, label: str, combo: QComboBox, button: QPushButton) -> None:
    """A form row: `combo` takes the width, `button` beside it; the label's
    mnemonic focuses the combo. The button must not take Enter from the dialog."""
    combo.setMinimumContentsLength(18)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    button.setAutoDefault(False)
    row = QHBoxLayout()
    row.addWidget(combo, 1)
    row.addWidget(button)
    buddy = QLabel(label)
    buddy.setBuddy(combo)
    form.addRow(buddy, row)


class DestinationDialog(QDialog):
    """Choose where `paths` go. Non-modal; emits accepted_destination."""

    accepted_destination = Signal(object)  # Destination

    def __init__(self, accounts: AccountStore, runner: TaskRunner, clients: ClientFactory,
                 paths: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accounts, self.runner, self.clients = accounts, runner, clients
        self.paths = [os.fspath(p) for p in paths]
        # A folder drop skips what is already there unless unticked; a drop of
        # files only starts as the last drop of files only was accepted.
        self.has_folder = any(os.path.isdir(p) for p in self.paths)
        self.setWindowTitle("Upload to S3 — mpugui")
        self.setWindowIcon(icon("add-file"))
        self.setModal(False)
        # From the screen it opens on; the form scrolls, the buttons stay in view.
        size_to_screen(self, QSize(1120, 700), QSize(900, 560))
        self._tasks: set[int] = set()
        self._bucket_task: int | None = None
        self._walked = False
        self._accounts_dialog: QDialog | None = None
        self.settings: QSettings = open_settings()
        # Listing waits for the account choice to settle (arrow keys through
        # the combo, or a caller picking an account right after opening).
        self._list_timer = QTimer(self)
        self._list_timer.setSingleShot(True)
        self._list_timer.setInterval(150)
        self._list_timer.timeout.connect(self._list_buckets)
        self._build()
        self._fill_accounts(select=self._first_account())
        self._start_walk()

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        """Where and how on the left, the key names the files will get on the
        right, the problem sentence and the buttons underneath."""
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self._build_where())
        left_layout.addWidget(self._build_advanced())
        left_layout.addStretch(1)
        about = QLabel("Every part carries its checksum and the server refuses a damaged "
                       "one. Uploads can be paused and resume where they stopped, even after "
                       "a restart.")
        about.setWordWrap(True)
        about.setEnabled(False)  # a muted hint
        left_layout.addWidget(about)


        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self._build_keys())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([440, 680])
        splitter.setChildrenCollapsible(False)

        self.error_label = warning_label("", BAD_COLOR)
        self.error_label.setAccessibleName("Problem")
        self.upload_button = QPushButton(icon("add-file"), "&Upload")
        self.upload_button.setDefault(True)
        self.upload_button.clicked.connect(self.try_accept)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.error_label, 1)
        buttons.addWidget(self.upload_button)
        buttons.addWidget(self.cancel_button)

        outer = QVBoxLayout(self)
        outer.addWidget(scrolled(splitter), 1)
        outer.addLayout(buttons)

        self.account_combo.currentIndexChanged.connect(self._account_changed)
        self.prefix_edit.textChanged.connect(self._update_keys)
        self.bucket_combo.currentTextChanged.connect(self._update_keys)
        self.setTabOrder(self.account_combo, self.accounts_button)

    def _build_where(self) -> QGroupBox:
        """Account, bucket, prefix, and how objects are stored (class,
        checksum, an existing key, skipping what is there)."""
        form_box = QGroupBox("Destination")
        form = QFormLayout(form_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.account_combo = QComboBox()
        self.accounts_button = QPushButton(icon("accounts"), "A&ccounts…")
        self.accounts_button.setToolTip("Add or edit accounts")
        self.accounts_button.clicked.connect(self._open_accounts)
        _add_combo_row(form, "&Account:", self.account_combo, self.accounts_button)

        self.bucket_combo = QComboBox()
        self.bucket_combo.setEditable(True)
        self.bucket_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self._bucket_hint("Listing buckets…")
        self.refresh_button = QPushButton(icon("retry"), "")
        self.refresh_button.setToolTip("List the buckets again")
        self.refresh_button.setAccessibleName("List buckets again")
        self.refresh_button.clicked.connect(self._list_buckets)
        _add_combo_row(form, "&Bucket:", self.bucket_combo, self.refresh_button)
        self.bucket_note = QLabel()
        self.bucket_note.setWordWrap(True)
        self.bucket_note.setEnabled(False)
        form.addRow("", self.bucket_note)

        self.prefix_edit = QLineEdit()
        self.prefix_edit.setPlaceholderText("optional, e.g. backups/2024/")
        self.prefix_edit.setToolTip("A folder in the bucket; a '/' is added at the end.")
        form.addRow("&Prefix:", self.prefix_edit)

        self.storage_combo = QComboBox()
        for value, label in STORAGE_CLASSES:
            text = label if value is None else f"{label}  ({value})"
            self.storage_combo.addItem(text, value)
        form.addRow("&Storage class:", self.storage_combo)

        self.checksum_combo = QComboBox()
        for name in ALGORITHMS:
            label = CHECKSUM_LABELS.get(name, name)
            if name == DEFAULT_ALGORITHM:
                label += " (recommended)"
            self.checksum_combo.addItem(label, name)
        self.checksum_combo.setToolTip(
            "Each part carries this checksum and the server refuses a part that "
            "arrives damaged.")
        form.addRow("C&hecksum:", self.checksum_combo)

        self.overwrite_radio = QRadioButton("&Replace it")
        self.keep_radio = QRadioButton("&Keep it (the upload fails)")
        self.keep_radio.setToolTip("Sends If-None-Match: * so the server refuses to replace "
                                   "an existing object.")
        self.overwrite_group = QButtonGroup(self)
        self.overwrite_group.addButton(self.overwrite_radio)
        self.overwrite_group.addButton(self.keep_radio)
        self.overwrite_radio.setChecked(True)
        exists_row = QHBoxLayout()
        exists_row.addWidget(self.overwrite_radio)
        exists_row.addWidget(self.keep_radio)
        exists_row.addStretch(1)
        exists_label = QLabel("If the key exists:")
        exists_label.setBuddy(self.overwrite_radio)
        form.addRow(exists_label, exists_row)

        self.skip_check = QCheckBox("Skip files already &in the bucket (same size and content)")
        self.skip_check.setToolTip(SKIP_EXISTING_TIP)
        self.skip_check.setChecked(self.has_folder)
        form.addRow("", self.skip_check)
        return form_box

    def _build_advanced(self) -> QGroupBox:
        """Part size and concurrency."""
        advanced = QGroupBox("Advanced")
        adv = QFormLayout(advanced)
        self.part_combo = QComboBox()
        self.part_combo.setEditable(True)
        self.part_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.part_combo.addItem("Automatic", None)
        for size in PART_SIZES:
            self.part_combo.addItem(format_bytes(size).replace(".0 ", " "), size)
        self.part_combo.setToolTip("5 MiB to 5 GiB; raised automatically when a file would "
                                   "need more than 10,000 parts.")
        adv.addRow("Part si&ze:", self.part_combo)
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(0, MAX_PINNED_CONCURRENCY)
        self.concurrency_spin.setSpecialValueText("Automatic")
        self.concurrency_spin.setSuffix(" parts at once")
        self.concurrency_spin.setToolTip("How many parts upload at the same time; "
                                         "Automatic uses the app's setting.")
        adv.addRow("Co&ncurrency:", self.concurrency_spin)
        return advanced

    def _build_keys(self) -> QGroupBox:
        """The key each file will get, and the summary above them."""
        keys_box = QGroupBox("Key names")
        keys_layout = QVBoxLayout(keys_box)
        self.summary_label = QLabel("Listing files…")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = KeyPreviewModel(self)
        self.preview_view = QTableView()
        self.preview_view.setModel(self.preview)
        self.preview_view.setAccessibleName("Key names")
        self.preview_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.preview_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_view.setWordWrap(False)
        self.preview_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.preview_view.verticalHeader().hide()
        self.preview_view.verticalHeader().setDefaultSectionSize(
            self.preview_view.fontMetrics().height() + 8)
        self.preview_view.setAlternatingRowColors(True)
        self.preview_view.setShowGrid(False)
        header = self.preview_view.horizontalHeader()
        header.setSectionResizeMode(KeyPreviewModel.KEY, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(KeyPreviewModel.SIZE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(KeyPreviewModel.SOURCE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(KeyPreviewModel.SOURCE, 220)
        keys_layout.addWidget(self.summary_label)
        keys_layout.addWidget(self.preview_view, 1)
        return keys_box

    # --------------------------------------------------------------- accounts
    def _fill_accounts(self, select: str | None = None) -> None:
        before = self.account_combo.currentData() if self.account_combo.count() else None
        current = select if select is not None else before
        try:
            names = [a.name for a in self.accounts.load()]
            problem = None
        except MpuguiError as exc:
            names, problem = [], str(exc)
        self.account_combo.blockSignals(True)
        self.account_combo.clear()
        self.account_combo.addItem(DEFAULT_ACCOUNT_LABEL, DEFAULT_ACCOUNT)
        for name in sorted(names, key=str.lower):
            self.account_combo.addItem(icon("accounts"), name, name)
        index = self.account_combo.findData(current)
        self.account_combo.setCurrentIndex(max(0, index))
        self.account_combo.blockSignals(False)
        if before is None or self.account_combo.currentData() != before:
            self._account_changed()
        else:
            # Same account, perhaps with a new endpoint or key (the Accounts
            # dialog dropped its cached client): list again, keep the form.
            self._list_timer.start()
        if problem:
            self._show_error(problem)

    def _first_account(self) -> str:
        """The account used last; the first time, a saved account (one was
        made on purpose, e.g. the sandbox's) before the default chain."""
        last = self.settings.value("destinations/last_account")
        if last is not None:
            return str(last)
        try:
            names = sorted((a.name for a in self.accounts.load()), key=str.lower)
        except MpuguiError:
            names = []
        return names[0] if names else DEFAULT_ACCOUNT

    def current_account(self) -> str:
        return str(self.account_combo.currentData() or DEFAULT_ACCOUNT)

    def current_endpoint(self) -> Endpoint:
        name = self.current_account()
        if name == DEFAULT_ACCOUNT:
            return Endpoint()
        return self.accounts.get(name).endpoint()

    def _open_accounts(self) -> None:
        if self._accounts_dialog is not None and shiboken6.isValid(self._accounts_dialog):
            self._accounts_dialog.raise_()
            self._accounts_dialog.activateWindow()
            return
        from mpugui.ui.accounts.account_dialog import AccountsDialog

        dialog = AccountsDialog(self.accounts, self.runner, self.clients, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        # A bound method, not a lambda: PySide 6.12 crashed deleting a dialog
        # whose signal held a lambda capturing this one.
        dialog.accounts_changed.connect(self._accounts_edited)
        self._accounts_dialog = dialog
        dialog.show()

    def _accounts_edited(self) -> None:
        self._fill_accounts()

    def _account_changed(self) -> None:
        self._restore(self.current_account())
        if self._bucket_task is not None:  # an answer for the previous account
            self.runner.forget(self._bucket_task)
            self._bucket_task = None
        self.bucket_combo.blockSignals(True)
        typed = self.bucket_combo.currentText()
        self.bucket_combo.clear()
        self.bucket_combo.setEditText(typed)
        self.bucket_combo.blockSignals(False)
        self._bucket_hint("Listing buckets…")
        self.bucket_note.setText("")
        self._list_timer.start()

    def _bucket_hint(self, text: str) -> None:
        edit = self.bucket_combo.lineEdit()
        if edit is not None:  # the combo is editable: it has one
            edit.setPlaceholderText(text)

    def busy(self) -> bool:
        """Still listing files or buckets."""
        return self._list_timer.isActive() or self._bucket_task is not None \
            or not self._walked

    # ---------------------------------------------------------------- buckets
    def _list_buckets(self) -> None:
        if self._bucket_task is not None:
            self.runner.forget(self._bucket_task)
            self._tasks.discard(self._bucket_task)
        try:
            endpoint = self.current_endpoint()
        except MpuguiError as exc:
            self._buckets_failed(exc)
            return
        clients = self.clients

        def work() -> list[str]:  # on the runner's pool
            listing = clients.client(endpoint).list_buckets()
            return sorted(b["Name"] for b in listing.get("Buckets", []))

        self.bucket_note.setText(f"Listing the buckets of {endpoint.label()}…")
        self._bucket_hint("Listing buckets…")
        self.refresh_button.setEnabled(False)
        task = self.runner.run(work, self._buckets_listed, self._buckets_failed)
        self._bucket_task = task
        self._tasks.add(task)

    def _buckets_listed(self, names: list[str]) -> None:
        if not shiboken6.isValid(self):
            return
        self._bucket_task = None
        self.refresh_button.setEnabled(True)
        typed = self.bucket_combo.currentText()
        gone = bool(names and typed) and typed == getattr(self, "_restored_bucket", None) \
            and typed not in names
        if gone:  # last time's bucket, deleted or never there: do not propose it
            typed = ""
        self.bucket_combo.blockSignals(True)
        self.bucket_combo.clear()
        self.bucket_combo.addItems(names)
        self.bucket_combo.setEditText(typed)
        self.bucket_combo.blockSignals(False)
        self._bucket_hint(
            "Choose a bucket" if names else "Type the bucket name")
        count = f"{len(names)} bucket{'s' if len(names) != 1 else ''}"
        self.bucket_note.setText(f"{count} in this account." if names else
                                 "This account has no buckets yet; type a bucket's name.")
        self.bucket_note.setStyleSheet("")
        self.bucket_note.setEnabled(False)
        self.bucket_note.setWordWrap(False)  # one line; a wrapped one reserves two
        if gone:
            self.bucket_note.setText(f"{count} in this account; the last one used, "
                                     f"“{self._restored_bucket}”, is not among them.")
        if not typed and names:
            self.bucket_combo.setCurrentIndex(0)
        self._update_keys()

    def _buckets_failed(self, exc: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self._bucket_task = None
        self.refresh_button.setEnabled(True)
        self._bucket_hint("Type the bucket name")
        code = error_code(exc) or ""
        if code in ("AccessDenied", "403"):
            reason = "This account may not list buckets (access denied)."
        else:
            reason = f"The buckets cannot be listed: {describe(exc, op='listing buckets')}"
        self.bucket_note.setText(reason + " Type the bucket's name instead.")
        self.bucket_note.setStyleSheet(f"color: {WARN_COLOR};")
        self.bucket_note.setEnabled(True)
        self.bucket_note.setWordWrap(True)

    # ------------------------------------------------------------------- keys
    def _start_walk(self) -> None:
        paths = list(self.paths)
        task = self.runner.run(lambda: walk_sources(paths), self._walk_done, self._walk_failed)
        self._tasks.add(task)

    def _walk_done(self, result: tuple[list[Row], list[str]]) -> None:
        if not shiboken6.isValid(self):
            return
        rows, problems = result
        self.preview.set_walk(rows, problems)
        self._walked = True
        self._update_keys()

    def _walk_failed(self, exc: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.preview.set_walk([], [f"The files cannot be listed: {describe(exc)}"])
        self._walked = True
        self._update_keys()

    def prefix(self) -> str:
        return normalize_prefix(self.prefix_edit.text())

    def _update_keys(self) -> None:
        self.preview.set_prefix(self.prefix())
        if not self._walked:
            self.summary_label.setText("Listing files…")
            self.upload_button.setEnabled(False)
            return
        n, size = self.preview.file_count(), self.preview.total_size()
        bucket = self.bucket_combo.currentText().strip() or "…"
        text = (f"{n:,} file{'s' if n != 1 else ''}, {format_bytes(size)} → "
                f"s3://{bucket}/{self.prefix()}")
        skipped = len(self.preview.problems())
        if skipped:
            text += f"  ·  {skipped} entr{'ies' if skipped != 1 else 'y'} cannot be uploaded"
        self.summary_label.setText(text)
        self.upload_button.setEnabled(n > 0)
        self._show_error("")

    # ------------------------------------------------------------- accepting
    def _show_error(self, sentence: str) -> None:
        # Always laid out (empty when fine), so the buttons keep their place.
        self.error_label.setText(sentence)

    def part_size(self) -> int | None:
        """The chosen part size, or MpuguiError with a sentence."""
        index = self.part_combo.findText(self.part_combo.currentText())
        if index >= 0:
            return self.part_combo.itemData(index)
        text = self.part_combo.currentText().strip()
        if not text or text.lower() == "automatic":
            return None
        try:
            return parse_part_size(text)  # the words of the CLI's --part-size
        except ValueError as exc:
            raise MpuguiError(f"Part size: {exc}.") from None

    def destination(self) -> Destination:
        """The form as a Destination, or MpuguiError with a sentence."""
        bucket = self.bucket_combo.currentText().strip()
        problem = bucket_problem(bucket)
        if problem:
            raise MpuguiError(problem)
        if self._walked and self.preview.file_count() == 0:
            raise MpuguiError("There is nothing to upload: "
                              + (self.preview.problems() or ["no files were chosen."])[0])
        concurrency = self.concurrency_spin.value() or None
        return Destination(
            endpoint=self.current_endpoint(), bucket=bucket, prefix=self.prefix(),
            storage_class=self.storage_combo.currentData(),
            checksum=self.checksum_combo.currentData(),
            no_overwrite=self.keep_radio.isChecked(),
            part_size=self.part_size(), concurrency=concurrency,
            skip_existing=self.skip_check.isChecked())

    def try_accept(self) -> None:
        try:
            dest = self.destination()
        except MpuguiError as exc:
            self._show_error(str(exc))
            return
        self._remember(self.current_account(), dest)
        self.accepted_destination.emit(dest)
        self.accept()

    # -------------------------------------------------- remembered per account
    @staticmethod
    def _group(account: str) -> str:
        # Account names may hold '/' or '=': keep each one a single INI key.
        return "destinations/" + (quote(account, safe="") or "_default")

    def _remember(self, account: str, dest: Destination) -> None:
        s = self.settings
        s.setValue("destinations/last_account", account)
        s.beginGroup(self._group(account))
        s.setValue("bucket", dest.bucket)
        s.setValue("prefix", dest.prefix)
        s.setValue("storage_class", dest.storage_class or "")
        s.setValue("checksum", dest.checksum or "")
        s.setValue("no_overwrite", dest.no_overwrite)
        s.setValue("part_size", dest.part_size or 0)
        s.setValue("concurrency", dest.concurrency or 0)
        if not self.has_folder:  # folders start ticked whatever was chosen
            s.setValue("skip_existing_files", dest.skip_existing)
        s.endGroup()
        s.sync()

    def _default_checksum(self) -> str:
        """None for an account with the checksum compatibility switch."""
        try:
            compat = self.current_endpoint().checksum_compat()
        except MpuguiError:
            compat = False
        return default_for(compat)

    def _restore(self, account: str) -> None:
        s = self.settings
        s.beginGroup(self._group(account))
        bucket = str(s.value("bucket", "") or "")
        prefix = str(s.value("prefix", "") or "")
        storage = str(s.value("storage_class", "") or "") or None
        checksum = str(s.value("checksum", "") or "") or self._default_checksum()
        no_overwrite = str(s.value("no_overwrite", "false")).lower() in ("true", "1")
        part_size = _int(s.value("part_size", 0))
        concurrency = _int(s.value("concurrency", 0))
        skip_files = str(s.value("skip_existing_files", "false")).lower() in ("true", "1")
        s.endGroup()
        self._restored_bucket = bucket  # proposed, not typed: dropped if not listed
        self.bucket_combo.setEditText(bucket)
        self.prefix_edit.setText(prefix)
        self.storage_combo.setCurrentIndex(max(0, self.storage_combo.findData(storage)))
        self.checksum_combo.setCurrentIndex(
            max(0, self.checksum_combo.findData(checksum if checksum in ALGORITHMS
                                                else DEFAULT_ALGORITHM)))
        (self.keep_radio if no_overwrite else self.overwrite_radio).setChecked(True)
        index = self.part_combo.findData(part_size or None)
        if index >= 0:
            self.part_combo.setCurrentIndex(index)
        else:
            self.part_combo.setEditText(format_bytes(part_size).replace(".0 ", " "))
        self.concurrency_spin.setValue(min(concurrency, self.concurrency_spin.maximum()))
        self.skip_check.setChecked(self.has_folder or skip_files)

    # ---------------------------------------------------------------- closing
    def done(self, result: int) -> None:
        self._list_timer.stop()
        for task in self._tasks:
            self.runner.forget(task)  # answers would arrive at a closed dialog
        self._tasks.clear()
        self._bucket_task = None
        if self._accounts_dialog is not None and shiboken6.isValid(self._accounts_dialog):
            self._accounts_dialog.close()
        super().done(result)


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
