"""The destination dialog: where dropped files go, and how.

Account, bucket (listed off the GUI thread, typed by hand when ListBuckets is
denied), prefix, storage class, checksum, overwrite policy, whether to skip
files already in the bucket, part size and concurrency. The key names are
shown before anything starts. This module puts the pieces together: the
value it hands back (destination), the account and bucket fields
(account_field, bucket_field), the storing and sending options
(send_options), the key preview (key_preview) and the last choice per
account (remembered).
"""

from __future__ import annotations

import os

import shiboken6
from PySide6.QtCore import QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError, describe
from mpugui.core.s3.checksums import default_for
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import format_bytes
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.accounts.check_list import BAD_COLOR, warning_label
from mpugui.ui.common.icons import icon
from mpugui.ui.common.screen_fit import scrolled, size_to_screen
from mpugui.ui.common.settings import open_settings
from mpugui.ui.destination import remembered, send_options
from mpugui.ui.destination.account_field import AccountField
from mpugui.ui.destination.bucket_field import BucketField
from mpugui.ui.destination.destination import Destination, bucket_problem, normalize_prefix
from mpugui.ui.destination.key_preview import KeyPreviewModel, Row, preview_table, walk_sources


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
        self._walk_task: int | None = None
        self._walked = False
        self.settings: QSettings = open_settings()
        # Listing waits for the account choice to settle (arrow keys through
        # the combo, or a caller picking an account right after opening).
        self._list_timer = QTimer(self)
        self._list_timer.setSingleShot(True)
        self._list_timer.setInterval(150)
        self._list_timer.timeout.connect(self._list_buckets)
        self._build()
        self.account.fill(select=self.account.first_choice(
            remembered.last_account(self.settings)))
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

        self.account.changed.connect(self._account_changed)
        self.prefix_edit.textChanged.connect(self._update_keys)
        self.bucket_combo.currentTextChanged.connect(self._update_keys)
        self.setTabOrder(self.account_combo, self.accounts_button)

    def _build_where(self) -> QGroupBox:
        """Account, bucket, prefix, and how objects are stored (class,
        checksum, an existing key, skipping what is there)."""
        form_box = QGroupBox("Destination")
        form = QFormLayout(form_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.account = AccountField(self.accounts, self.runner, self.clients)
        self.account.refreshed.connect(self._list_timer.start)
        self.account.problem.connect(self._show_error)
        self.account_combo, self.accounts_button = self.account.combo, self.account.button
        _add_row(form, "&Account:", self.account_combo, self.account)

        self.buckets = BucketField(self.runner, self.clients)
        self.buckets.refresh_requested.connect(self._list_buckets)
        self.buckets.listed.connect(self._update_keys)
        self.bucket_combo, self.bucket_note = self.buckets.combo, self.buckets.note
        _add_row(form, "&Bucket:", self.bucket_combo, self.buckets)
        form.addRow("", self.bucket_note)

        self.prefix_edit = QLineEdit()
        self.prefix_edit.setPlaceholderText("optional, e.g. backups/2024/")
        self.prefix_edit.setToolTip("A folder in the bucket; a '/' is added at the end.")
        form.addRow("&Prefix:", self.prefix_edit)

        self.storage_combo = send_options.storage_class_combo()
        form.addRow("&Storage class:", self.storage_combo)
        self.checksum_combo = send_options.checksum_combo()
        form.addRow("C&hecksum:", self.checksum_combo)
        self.overwrite_radio, self.keep_radio, exists_row = \
            send_options.existing_key_choice(self)
        exists_label = QLabel("If the key exists:")
        exists_label.setBuddy(self.overwrite_radio)
        form.addRow(exists_label, exists_row)
        self.skip_check = send_options.skip_existing_check(self.has_folder)
        form.addRow("", self.skip_check)
        return form_box

    def _build_advanced(self) -> QGroupBox:
        """Part size and concurrency."""
        advanced = QGroupBox("Advanced")
        adv = QFormLayout(advanced)
        self.part_combo = send_options.part_size_combo()
        adv.addRow("Part si&ze:", self.part_combo)
        self.concurrency_spin = send_options.concurrency_spin()
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
        self.preview_view = preview_table(self.preview)
        keys_layout.addWidget(self.summary_label)
        keys_layout.addWidget(self.preview_view, 1)
        return keys_box

    # --------------------------------------------------------------- accounts
    def current_account(self) -> str:
        return self.account.current()

    def current_endpoint(self) -> Endpoint:
        return self.account.endpoint()

    def _account_changed(self) -> None:
        self._restore(self.current_account())
        self.buckets.reset()
        self._list_timer.start()

    def busy(self) -> bool:
        """Still listing files or buckets."""
        return self._list_timer.isActive() or self.buckets.busy() or not self._walked

    def _list_buckets(self) -> None:
        self.buckets.stop()
        try:
            endpoint = self.current_endpoint()
        except MpuguiError as exc:
            self.buckets.failed(exc)
            return
        self.buckets.start_listing(endpoint)

    # ------------------------------------------------------------------- keys
    def _start_walk(self) -> None:
        paths = list(self.paths)
        self._walk_task = self.runner.run(lambda: walk_sources(paths), self._walk_done,
                                          self._walk_failed)

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
        bucket = self.buckets.name() or "…"
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
        return send_options.chosen_part_size(self.part_combo)

    def destination(self) -> Destination:
        """The form as a Destination, or MpuguiError with a sentence."""
        bucket = self.buckets.name()
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
        remembered.remember(self.settings, self.current_account(), dest,
                            has_folder=self.has_folder)
        self.accepted_destination.emit(dest)
        self.accept()

    # -------------------------------------------------- remembered per account
    def _default_checksum(self) -> str:
        """None for an account with the checksum compatibility switch."""
        try:
            compat = self.current_endpoint().checksum_compat()
        except MpuguiError:
            compat = False
        return default_for(compat)

    def _restore(self, account: str) -> None:
        """Show `account`'s last choice."""
        last = remembered.recall(self.settings, account)
        self.buckets.propose(last.bucket)  # proposed, not typed: dropped if not listed
        self.prefix_edit.setText(last.prefix)
        self.storage_combo.setCurrentIndex(max(0, self.storage_combo.findData(
            last.storage_class)))
        send_options.select_checksum(self.checksum_combo,
                                     last.checksum or self._default_checksum())
        (self.keep_radio if last.no_overwrite else self.overwrite_radio).setChecked(True)
        send_options.show_part_size(self.part_combo, last.part_size)
        self.concurrency_spin.setValue(min(last.concurrency, self.concurrency_spin.maximum()))
        self.skip_check.setChecked(self.has_folder or last.skip_existing_files)

    # ---------------------------------------------------------------- closing
    def done(self, result: int) -> None:
        self._list_timer.stop()
        if self._walk_task is not None:
            self.runner.forget(self._walk_task)  # its answer would arrive at a closed dialog
            self._walk_task = None
        self.buckets.stop()
        self.account.close_accounts()
        super().done(result)


def _add_row(form: QFormLayout, label: str, buddy: QWidget, field: QWidget) -> None:
    """A form row whose label's mnemonic focuses `buddy` inside `field`."""
    caption = QLabel(label)
    caption.setBuddy(buddy)
    form.addRow(caption, field)
