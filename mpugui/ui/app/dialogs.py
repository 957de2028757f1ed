"""The window's dialogs: the destination dialog of each add, the Accounts and
Storage prices dialogs (one each: opened again, the open one is raised) and
the About box. All non-modal and deleted on close; the open ones are kept
here so quitting closes them. Their modules are imported when first opened."""

from __future__ import annotations

import functools
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from mpugui.core.accounts import AccountStore
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common import icons
from mpugui.ui.common.messages import MessageBridge
from mpugui.ui.queue.adder import DestinationLike


class Dialogs(QObject):
    accounts_changed = Signal()  # the Accounts dialog saved or removed one
    prices_changed = Signal()  # Storage prices saved: the uploads tabs price again

    def __init__(self, parent: QWidget, accounts: AccountStore, runner: TaskRunner,
                 clients: ClientFactory, bridge: MessageBridge) -> None:
        super().__init__(parent)
        self.window = parent
        self.accounts, self.runner, self.clients, self.bridge = accounts, runner, clients, bridge
        self.kept: list[QWidget] = []  # the open ones

    def ask_destination(self, paths: list[str],
                        add: Callable[[list[str], DestinationLike], None]) -> QWidget | None:
        """Ask where `paths` go; `add(paths, destination)` once chosen."""
        if not paths:
            return None
        try:
            from mpugui.ui.destination.dialog import DestinationDialog
        except ImportError:
            self.bridge.post("error", "The destination dialog is not available in this build.")
            return None
        dialog = DestinationDialog(self.accounts, self.runner, self.clients, list(paths),
                                   self.window)
        # partial/bound methods, not lambdas holding the dialog: the dialog
        # deletes itself on close and must not be kept alive by its own signals
        dialog.accepted_destination.connect(functools.partial(add, list(paths)))
        self._keep(dialog)
        dialog.raise_()
        return dialog

    def open_accounts(self) -> QWidget | None:
        try:
            from mpugui.ui.accounts.dialog import AccountsDialog
        except ImportError:
            self.bridge.post("error", "The accounts dialog is not available in this build.")
            return None
        shown = self._raise_open(lambda d: type(d).__name__ == "AccountsDialog")
        if shown is not None:
            return shown
        dialog = AccountsDialog(self.accounts, self.runner, self.clients, self.window)
        # The In-progress tab lists with what the dialog saves, at once.
        dialog.accounts_changed.connect(self._accounts_saved)
        self._keep(dialog)
        return dialog

    def open_prices(self) -> QWidget:
        """Settings ▸ Storage prices: saved prices re-price both uploads tabs."""
        from mpugui.ui.uploads.prices_dialog import PricesDialog

        shown = self._raise_open(lambda d: isinstance(d, PricesDialog))
        if shown is not None:
            return shown
        dialog = PricesDialog(self.accounts, self.window)
        dialog.saved.connect(self._prices_saved)
        self._keep(dialog)
        return dialog

    def about(self) -> None:
        from mpugui import __version__

        box = QMessageBox(QMessageBox.Icon.Information, "About mpugui",
                          f"<b>mpugui {__version__}</b><br>A desktop upload manager for Amazon "
                          "S3 and S3-compatible stores, built around multipart upload.",
                          QMessageBox.StandardButton.Close, self.window)
        box.setIconPixmap(icons.app_icon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def close_all(self) -> None:
        self._prune()
        for d in list(self.kept):
            d.close()

    def _raise_open(self, wanted: Callable[[QWidget], bool]) -> QWidget | None:
        self._prune()
        for d in self.kept:
            if wanted(d):
                d.raise_()
                d.activateWindow()
                return d
        return None

    def _keep(self, dialog: QWidget) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._prune)
        self.kept.append(dialog)
        dialog.show()

    def _prune(self, *_: object) -> None:
        self.kept = [d for d in self.kept if shiboken6.isValid(d)]

    # bound methods, not signal-to-signal or lambdas (see ask_destination)
    def _accounts_saved(self) -> None:
        self.accounts_changed.emit()

    def _prices_saved(self) -> None:
        self.prices_changed.emit()
