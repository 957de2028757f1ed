"""The account chooser the In-progress uploads and All buckets tabs share."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from mpugui.core.accounts import AccountStore
from mpugui.core.s3.endpoint import Endpoint
from mpugui.ui.common.messages import user_error

DEFAULT_CREDENTIALS = "AWS default credentials"


def refill_accounts(combo: QComboBox, store: AccountStore) -> tuple[bool, str | None]:
    """Fill `combo` with the store's accounts and the default credentials,
    keeping the account shown when it is still there. Returns whether the
    shown account changed, and the sentence of a store that can't be read
    (a damaged account file must not break the view)."""
    current = combo.currentText()
    error = None
    combo.blockSignals(True)
    combo.clear()
    try:
        accounts = store.load()
    except Exception as exc:
        accounts, error = [], user_error(exc)
    for a in accounts:
        combo.addItem(a.name, a.endpoint())
    combo.addItem(DEFAULT_CREDENTIALS, Endpoint())
    i = combo.findText(current) if current else -1
    combo.setCurrentIndex(max(i, 0))
    combo.blockSignals(False)
    return combo.currentText() != current, error
