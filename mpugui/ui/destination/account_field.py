"""The destination dialog's account: the saved accounts (sorted) after the
standard AWS credential chain, and Accounts… beside them, which opens the
Accounts dialog; what it saves is offered at once, the choice kept."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QPushButton, QWidget

from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common.icons import icon

DEFAULT_ACCOUNT = ""  # the combo's data for the standard AWS credential chain
DEFAULT_ACCOUNT_LABEL = "AWS default credentials"


class AccountField(QWidget):
    changed = Signal()  # another account is chosen
    refreshed = Signal()  # the same account, perhaps with a new endpoint or key
    problem = Signal(str)  # the account store cannot be read

    def __init__(self, accounts: AccountStore, runner: TaskRunner, clients: ClientFactory,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accounts, self.runner, self.clients = accounts, runner, clients
        self.accounts_dialog: QDialog | None = None
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(18)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.currentIndexChanged.connect(self.changed)
        self.button = QPushButton(icon("accounts"), "A&ccounts…")
        self.button.setToolTip("Add or edit accounts")
        self.button.setAutoDefault(False)  # Enter belongs to the dialog
        self.button.clicked.connect(self.open_accounts)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.button)

    def fill(self, select: str | None = None) -> None:
        """The accounts again, showing `select` (None: the one shown)."""
        before = self.combo.currentData() if self.combo.count() else None
        current = select if select is not None else before
        try:
            names = [a.name for a in self.accounts.load()]
            problem = None
        except MpuguiError as exc:
            names, problem = [], str(exc)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(DEFAULT_ACCOUNT_LABEL, DEFAULT_ACCOUNT)
        for name in sorted(names, key=str.lower):
            self.combo.addItem(icon("accounts"), name, name)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.combo.blockSignals(False)
        if before is None or self.combo.currentData() != before:
            self.changed.emit()
        else:
            # The Accounts dialog dropped its cached client: list again.
            self.refreshed.emit()
        if problem:
            self.problem.emit(problem)

    def first_choice(self, last_used: str | None) -> str:
        """The account used last; the first time, a saved account (one was
        made on purpose, e.g. the sandbox's) before the default chain."""
        if last_used is not None:
            return last_used
        try:
            names = sorted((a.name for a in self.accounts.load()), key=str.lower)
        except MpuguiError:
            names = []
        return names[0] if names else DEFAULT_ACCOUNT

    def current(self) -> str:
        return str(self.combo.currentData() or DEFAULT_ACCOUNT)

    def endpoint(self) -> Endpoint:
        """The chosen account's endpoint, or MpuguiError."""
        name = self.current()
        if name == DEFAULT_ACCOUNT:
            return Endpoint()
        return self.accounts.get(name).endpoint()

    def open_accounts(self) -> None:
        if self.accounts_dialog is not None and shiboken6.isValid(self.accounts_dialog):
            self.accounts_dialog.raise_()
            self.accounts_dialog.activateWindow()
            return
        from mpugui.ui.accounts.dialog import AccountsDialog

        dialog = AccountsDialog(self.accounts, self.runner, self.clients, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        # A bound method, not a lambda: PySide 6.12 crashed deleting a dialog
        # whose signal held a lambda capturing this one.
        dialog.accounts_changed.connect(self._accounts_edited)
        self.accounts_dialog = dialog
        dialog.show()

    def close_accounts(self) -> None:
        if self.accounts_dialog is not None and shiboken6.isValid(self.accounts_dialog):
            self.accounts_dialog.close()

    def _accounts_edited(self) -> None:
        self.fill()
