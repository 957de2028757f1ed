"""The Accounts dialog: saved accounts on the left, the selected one's form
on the right, and "Test connection" underneath.

An account is an AWS profile (SSO included) or an access key whose secret
goes to keyring through AccountStore.save — never to QSettings, the journal,
logs or a command line. The dialog is non-modal and every question it asks
is a non-modal message box. This module puts the pieces together and keeps
the list, the form and the store in step: the form (account_form, with its
profile chooser and the checks in account_values), where secrets go
(secret_keeping), the test (connection_test), the questions (question) and
the list (account_list).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.errors import MpuguiError, describe
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.accounts.account_form import AccountForm
from mpugui.ui.accounts.account_list import AccountListModel, TwoLineDelegate
from mpugui.ui.accounts.account_values import account_from
from mpugui.ui.accounts.check_list import BAD_COLOR, warning_label
from mpugui.ui.accounts.connection_test import ConnectionTest
from mpugui.ui.accounts.question import Question
from mpugui.ui.accounts.secret_keeping import NO_KEYRING_HINT, secret_for_test, store_account
from mpugui.ui.common.icons import icon
from mpugui.ui.common.screen_fit import scrolled, size_to_screen


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
        self.question = Question(self)
        self._build()
        self.form.profiles.reload()
        self._reload(select=None)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        """The list beside the form over the test, the problem sentence and
        the buttons underneath."""
        self.form = AccountForm()
        self.form.changed.connect(self._changed)
        self.tester = ConnectionTest(self.runner)
        self.tester.requested.connect(self.test_connection)
        self.tester.finished.connect(self._tested)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.form)
        right_layout.addWidget(self.tester, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_list())
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 680])
        splitter.setChildrenCollapsible(False)

        self.error_label = warning_label("", BAD_COLOR)
        self.error_label.setAccessibleName("Problem")
        self.error_label.hide()
        outer = QVBoxLayout(self)
        outer.addWidget(scrolled(splitter), 1)
        outer.addWidget(self.error_label)
        outer.addLayout(self._build_buttons())

    def _build_list(self) -> QWidget:
        """The saved accounts, with Add and Remove under them."""
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
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(list_label)
        layout.addWidget(self.list_view, 1)
        layout.addLayout(buttons)
        return left

    def _build_buttons(self) -> QHBoxLayout:
        """The status sentence, Revert, Save and Close."""
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
        return buttons

    # ------------------------------------------------------------ form state
    def _changed(self) -> None:
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
        self._editing = account
        self.form.fill(account)
        self._dirty = False
        self.tester.checks.clear()
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
            self.form.name_edit.setFocus()

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
        self.form.name_edit.setFocus()

    def _revert(self) -> None:
        self._fill(self._editing)

    def _show_error(self, sentence: str) -> None:
        self.error_label.setText(sentence)
        self.error_label.setVisible(bool(sentence))

    # ------------------------------------------------------------- questions
    @property
    def _box(self) -> QMessageBox | None:
        """The open question, if any."""
        return self.question.box

    def _add_clicked(self) -> None:
        self._guard(self._new_account)

    def _guard(self, then: Callable[[], Any]) -> None:
        """Run `then` now, or after asking what to do with unsaved changes."""
        if not self._dirty:
            then()
            return
        B = QMessageBox.StandardButton
        name = self.form.name_edit.text().strip() or "the new account"

        def answer(button: QMessageBox.StandardButton) -> None:
            if button == B.Save and self.save():
                then()
            elif button == B.Discard:
                self._dirty = False
                then()

        self.question.ask(f"Save the changes to {name}?", "Unsaved changes are lost otherwise.",
                          B.Save | B.Discard | B.Cancel, answer, B.Save)

    def _ask_remove(self) -> None:
        account = self._editing
        if account is None:
            return
        B = QMessageBox.StandardButton
        extra = " Its secret key is deleted from the keyring." if account.kind == KEYS else ""
        self.question.ask(
            f"Remove the account '{account.name}'?",
            "Transfers that use it stay in the list but cannot resume until an account "
            f"with this name exists again.{extra}",
            B.Yes | B.No, lambda b: self.remove(account.name) if b == B.Yes else None, B.No)

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

    # ------------------------------------------------------------ validation
    def collect(self, *, for_test: bool = False) -> tuple[Account, str | None, bool]:
        """The form as (account, secret or None to keep, session_only), or
        MpuguiError with a sentence saying what to fix."""
        values = self.form.values()
        return account_from(
            values, old_name=self._editing.name if self._editing else None,
            name_taken=self.model.row_of(values.name) >= 0,
            profile_known=not values.profile or self.form.profiles.knows(values.profile),
            for_test=for_test)

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
            session_only = store_account(self.store, old, account, secret, session_only)
        except secrets.KeyringUnavailable as exc:
            self._show_error(str(exc) + NO_KEYRING_HINT)
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
            self.tester.refuse(str(exc))
            return
        secret = secret_for_test(account, secret, self._editing)
        self.status_label.setText("Testing the connection…")
        self.tester.start(account.endpoint(), secret)

    def _tested(self, summary: str) -> None:
        self.status_label.setText(summary)

    # --------------------------------------------------------------- closing
    def reject(self) -> None:
        """Close (Escape, the Close button, the title bar), asking first
        about unsaved changes."""
        self._guard(super().reject)

    def done(self, result: int) -> None:
        self.tester.stop()  # the answer would come to a closed dialog
        self.question.close()
        super().done(result)
