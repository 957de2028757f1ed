"""The destination dialog's bucket: an editable combo filled by ListBuckets
off the GUI thread, a button that lists again, and a note under them (how
many buckets, or why they cannot be listed: then the name is typed by hand).
Last time's bucket is proposed, and dropped when the listing lacks it."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from mpugui.core.errors import describe, error_code
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.accounts.check_list import WARN_COLOR
from mpugui.ui.common.icons import icon

LISTING = "Listing buckets…"


class BucketField(QWidget):
    """The combo and its button, as one form field; `note` is the row under it."""

    listed = Signal()  # the names arrived (the bucket shown may have changed)
    refresh_requested = Signal()  # "List the buckets again"

    def __init__(self, runner: TaskRunner, clients: ClientFactory,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner, self.clients = runner, clients
        self._task: int | None = None
        self._proposed: str | None = None  # last time's bucket, not typed by the user
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumContentsLength(18)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._hint(LISTING)
        self.refresh_button = QPushButton(icon("retry"), "")
        self.refresh_button.setToolTip("List the buckets again")
        self.refresh_button.setAccessibleName("List buckets again")
        self.refresh_button.setAutoDefault(False)  # Enter belongs to the dialog
        self.refresh_button.clicked.connect(self.refresh_requested)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.refresh_button)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setEnabled(False)

    def name(self) -> str:
        return self.combo.currentText().strip()

    def busy(self) -> bool:
        return self._task is not None

    def propose(self, bucket: str) -> None:
        """Show last time's bucket; dropped if the listing lacks it."""
        self._proposed = bucket
        self.combo.setEditText(bucket)

    def reset(self) -> None:
        """Another account: its names are to come, the typed text stays."""
        self.stop()
        self.combo.blockSignals(True)
        typed = self.combo.currentText()
        self.combo.clear()
        self.combo.setEditText(typed)
        self.combo.blockSignals(False)
        self._hint(LISTING)
        self.note.setText("")

    def stop(self) -> None:
        """Forget the listing in flight: its answer would come too late."""
        if self._task is not None:
            self.runner.forget(self._task)
            self._task = None

    def start_listing(self, endpoint: Endpoint) -> None:
        """ListBuckets on the runner's pool, replacing a listing in flight."""
        self.stop()
        clients = self.clients

        def work() -> list[str]:  # on the runner's pool
            listing = clients.client(endpoint).list_buckets()
            return sorted(b["Name"] for b in listing.get("Buckets", []))

        self.note.setText(f"Listing the buckets of {endpoint.label()}…")
        self._hint(LISTING)
        self.refresh_button.setEnabled(False)
        self._task = self.runner.run(work, self._listed, self.failed)

    def _listed(self, names: list[str]) -> None:
        if not shiboken6.isValid(self):
            return
        self._task = None
        self.refresh_button.setEnabled(True)
        typed = self.combo.currentText()
        gone = bool(names and typed) and typed == self._proposed and typed not in names
        if gone:  # last time's bucket, deleted or never there: do not propose it
            typed = ""
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(names)
        self.combo.setEditText(typed)
        self.combo.blockSignals(False)
        self._hint("Choose a bucket" if names else "Type the bucket name")
        count = f"{len(names)} bucket{'s' if len(names) != 1 else ''}"
        self.note.setText(f"{count} in this account." if names else
                          "This account has no buckets yet; type a bucket's name.")
        self.note.setStyleSheet("")
        self.note.setEnabled(False)
        self.note.setWordWrap(False)  # one line; a wrapped one reserves two
        if gone:
            self.note.setText(f"{count} in this account; the last one used, "
                              f"“{self._proposed}”, is not among them.")
        if not typed and names:
            self.combo.setCurrentIndex(0)
        self.listed.emit()

    def failed(self, exc: BaseException) -> None:
        """The names cannot be listed (or the account cannot be used): say
        why, and let the name be typed."""
        if not shiboken6.isValid(self):
            return
        self._task = None
        self.refresh_button.setEnabled(True)
        self._hint("Type the bucket name")
        code = error_code(exc) or ""
        if code in ("AccessDenied", "403"):
            reason = "This account may not list buckets (access denied)."
        else:
            reason = f"The buckets cannot be listed: {describe(exc, op='listing buckets')}"
        self.note.setText(reason + " Type the bucket's name instead.")
        self.note.setStyleSheet(f"color: {WARN_COLOR};")
        self.note.setEnabled(True)
        self.note.setWordWrap(True)

    def _hint(self, text: str) -> None:
        edit = self.combo.lineEdit()
        if edit is not None:  # the combo is editable: it has one
            edit.setPlaceholderText(text)
