"""Where the In-progress tab looks: account, bucket and prefix, with List
uploads and Stop. The bucket field is editable; its list of names is fetched
off the GUI thread when first opened (no network call happens before the
user asks for something)."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from mpugui.core.accounts import AccountStore
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common import icons
from mpugui.ui.common.account_combo import refill_accounts

log = logging.getLogger("mpugui.ui.uploads")


class LocationBar(QWidget):
    list_requested = Signal()  # List uploads, or Enter in the bucket or prefix
    stop_requested = Signal()
    account_changed = Signal()  # another account is shown
    problem = Signal(str)  # the account store cannot be read: a sentence

    def __init__(self, accounts: AccountStore, runner: TaskRunner, clients: ClientFactory,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accounts, self.runner, self.clients = accounts, runner, clients
        self._names_for: Endpoint | None = None  # the account whose bucket names are listed

        self.account = QComboBox()
        self.account.setMinimumContentsLength(16)
        self.account.currentIndexChanged.connect(self._account_changed)
        self.bucket = _BucketCombo()
        self.bucket.opening.connect(self._fetch_bucket_names)
        self.bucket.setMinimumContentsLength(18)
        bucket_edit = self.bucket.lineEdit()
        assert bucket_edit is not None  # an editable combo has one
        bucket_edit.setPlaceholderText("bucket name")
        bucket_edit.returnPressed.connect(self.list_requested)
        self.prefix = QLineEdit()
        self.prefix.setPlaceholderText("all keys (optional prefix)")
        self.prefix.returnPressed.connect(self.list_requested)
        self.list_button = QPushButton(icons.icon("uploads"), "List uploads")
        self.list_button.setDefault(True)
        self.list_button.clicked.connect(self.list_requested)
        self.stop_button = QPushButton(icons.icon("cancel"), "Stop")
        self.stop_button.clicked.connect(self.stop_requested)

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("Account", self.account), ("Bucket", self.bucket),
                              ("Prefix", self.prefix)):
            caption = QLabel(label)
            caption.setBuddy(widget)
            row.addWidget(caption)
            row.addWidget(widget, 2)
        row.addWidget(self.list_button)
        row.addWidget(self.stop_button)

    def reload_accounts(self) -> None:
        changed, error = refill_accounts(self.account, self.accounts)
        if error:
            self.problem.emit(error)
        if changed:
            self._account_changed()

    def endpoint(self) -> Endpoint:
        data = self.account.currentData()
        return data if isinstance(data, Endpoint) else Endpoint()

    def bucket_name(self) -> str:
        return self.bucket.currentText().strip()

    def set_location(self, account: str, bucket: str, prefix: str = "") -> None:
        i = self.account.findText(account)
        if i < 0:
            self.reload_accounts()
            i = self.account.findText(account)
        if i >= 0:
            self.account.setCurrentIndex(i)
        self.bucket.setEditText(bucket)
        self.prefix.setText(prefix)

    def _account_changed(self, *_: Any) -> None:
        self._names_for = None  # names are fetched when the list opens
        self.account_changed.emit()

    def _fetch_bucket_names(self) -> None:
        """Fill the bucket list on first use (not at start)."""
        endpoint, clients = self.endpoint(), self.clients
        if self._names_for == endpoint:
            return
        self._names_for = endpoint
        self.runner.run(lambda: [b["Name"] for b in
                                 clients.client(endpoint).list_buckets().get("Buckets", [])],
                        lambda names: self._buckets_listed(endpoint, names),
                        lambda exc: log.info("Bucket names unavailable: %s", exc))

    def _buckets_listed(self, endpoint: Endpoint, names: list[str]) -> None:
        if endpoint != self.endpoint():
            return
        text = self.bucket.currentText()
        self.bucket.blockSignals(True)
        self.bucket.clear()
        self.bucket.addItems(names)
        self.bucket.setEditText(text or (names[0] if len(names) == 1 else ""))
        self.bucket.blockSignals(False)
        if names and self.bucket.isVisible():
            self.bucket.showPopup()  # the list the user opened was empty a moment ago


class _BucketCombo(QComboBox):
    """An editable bucket field whose list is filled when first opened."""

    opening = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setEditable(True)

    def showPopup(self) -> None:
        self.opening.emit()
        if self.count():
            super().showPopup()
