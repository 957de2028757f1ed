"""Where an access key's secret goes: the system keyring through
AccountStore.save (never QSettings, the journal, logs or a command line),
or memory for this session when there is no keyring and the user says so.
The form's note on which it will be, the secret that moves with a rename and
goes when an account becomes a profile, and the one Test connection uses."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, PROFILE, Account, AccountStore
from mpugui.ui.accounts.check_list import WARN_COLOR

NO_KEYRING_HINT = " Tick “Keep the secret for this session only”."


def is_stored(name: str) -> bool:
    """The saved account `name` has a secret kept (keyring or session)."""
    return bool(secrets.get_secret(name))


def show_keyring_state(note: QLabel) -> bool:
    """Say in `note` where a secret typed now would be kept; True when the
    system keyring is available."""
    available = secrets.keyring_available()
    if available:
        note.setText("The secret key is stored in the system keyring, "
                     "never in mpugui's files.")
        note.setStyleSheet("")
        note.setEnabled(False)
        note.setWordWrap(False)  # one line; wrapping reserves two
        note.setMinimumHeight(0)
    else:
        note.setText(
            "No system keyring is available here (common on headless Linux), so the "
            "secret key cannot be stored. It can be kept in memory for this session "
            "only; you will have to enter it again after mpugui restarts.")
        note.setStyleSheet(f"color: {WARN_COLOR};")
        note.setEnabled(True)
        note.setWordWrap(True)
        # A form gives a wrapped label the height of its hint width;
        # reserve three lines so a narrow window never clips the warning.
        note.setMinimumHeight(note.fontMetrics().lineSpacing() * 3)
    return available


def store_account(store: AccountStore, old: Account | None, account: Account,
                  secret: str | None, session_only: bool) -> bool:
    """Save `account` (replacing `old`, the saved one it was edited from)
    with its secret; returns whether the secret is kept for the session only.
    Raises secrets.KeyringUnavailable, or what the keyring backend raises."""
    if old is not None and old.name != account.name and account.kind == KEYS \
            and secret is None:
        secret = secrets.get_secret(old.name)  # the secret moves with the rename
        session_only = not secrets.keyring_available()
    store.save(account, secret, session_only=session_only)
    if old is not None and old.name != account.name:
        store.delete(old.name)
    elif old is not None and old.kind == KEYS and account.kind == PROFILE:
        secrets.delete_secret(account.name)  # no longer used by anything
    return session_only


def secret_for_test(account: Account, typed: str | None, old: Account | None) -> str | None:
    """The secret Test connection uses: the one typed, else the saved one's."""
    if account.kind == KEYS and typed is None and old is not None:
        return secrets.get_secret(old.name)
    return typed
