"""The window's second and third tabs, In-progress uploads (one bucket's
unfinished uploads) and All buckets (every bucket of an account): a
placeholder each until first shown, then the view — their modules are
imported then, as most sessions never open them. What the dialogs change
(accounts, prices) and the sandbox's start reach the views here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget

from mpugui.core.accounts import AccountStore
from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.states import FINAL_STATES
from mpugui.engine.engine import TransferEngine
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.app.sandbox_banner import SandboxBanner
from mpugui.ui.common import icons

if TYPE_CHECKING:  # imported when first shown (ensure_uploads_browser)
    from mpugui.ui.uploads.in_progress_tab import UploadsBrowser

UPLOADS_TAB, BUCKETS_TAB = 1, 2


class UploadTabs(QObject):
    def __init__(self, window: QWidget, tabs: QTabWidget, accounts: AccountStore,
                 runner: TaskRunner, clients: ClientFactory, journal: Journal,
                 engine: TransferEngine, open_prices: Callable[[], object],
                 sandbox: Any = None, banner: SandboxBanner | None = None) -> None:
        super().__init__(window)
        self.window, self.tabs = window, tabs
        self.accounts, self.runner, self.clients = accounts, runner, clients
        self.journal, self.engine, self.open_prices = journal, engine, open_prices
        self.sandbox, self.banner = sandbox, banner
        self._uploads_placeholder = QLabel("Loading…")
        self.uploads_browser: UploadsBrowser | None = None
        tabs.addTab(self._uploads_placeholder, icons.icon("uploads"), "In-progress uploads")
        # Every bucket of an account at once (mpugui.ui.uploads.all_buckets_tab), made on first use.
        self._account_placeholder = QLabel("Loading…")
        self.account_view: QWidget | None = None
        tabs.addTab(self._account_placeholder, icons.icon("uploads"), "All buckets")
        tabs.currentChanged.connect(self._tab_changed)

    def ensure_uploads_browser(self) -> UploadsBrowser | None:
        if self.uploads_browser is not None:
            return self.uploads_browser
        try:
            from mpugui.ui.uploads.in_progress_tab import UploadsBrowser
        except ImportError:
            self._uploads_placeholder.setText("The in-progress uploads browser is not "
                                              "available in this build.")
            return None
        browser = UploadsBrowser(self.accounts, self.runner, self.clients, self.journal,
                                 self.engine, self.window)
        self.uploads_browser = browser
        browser.prices_requested.connect(self.open_prices)
        if self.sandbox is not None and hasattr(browser, "set_location"):
            browser.set_location(self.sandbox.account.name, self.sandbox.bucket)
            ready = self.banner is None or self.banner.is_ready
            if hasattr(browser, "list_uploads") and ready:  # else once it is (sandbox_ready)
                QTimer.singleShot(0, browser.list_uploads)
        self._replace_tab(UPLOADS_TAB, browser, "In-progress uploads")
        self._uploads_placeholder.deleteLater()
        return browser

    def ensure_account_view(self) -> QWidget:
        if self.account_view is not None:
            return self.account_view
        from mpugui.ui.uploads.all_buckets_tab import AccountView

        view = AccountView(self.accounts, self.runner, self.clients, self.journal, self.window,
                           cancel_transfers=self._cancel_aborted_transfers)
        view.open_bucket.connect(self._open_bucket_uploads)
        if self.sandbox is not None:
            view.set_account(self.sandbox.account.name)
        self.account_view = view
        self._replace_tab(BUCKETS_TAB, view, "All buckets")
        self._account_placeholder.deleteLater()
        return view

    def prices_changed(self) -> None:
        for view in (self.uploads_browser, self.account_view):
            if view is not None and hasattr(view, "prices_changed"):
                view.prices_changed()

    def accounts_changed(self) -> None:
        for view in (self.uploads_browser, self.account_view):
            if view is not None and hasattr(view, "reload_accounts"):
                view.reload_accounts()

    def sandbox_ready(self) -> None:
        """The sandbox's server answers: the In-progress tab lists its bucket."""
        browser = self.uploads_browser
        if browser is not None and hasattr(browser, "list_uploads"):
            browser.list_uploads()

    def close(self) -> None:
        if self.uploads_browser is not None:
            self.uploads_browser.close()
        if self.account_view is not None:
            self.account_view.close()  # stops a running scan (its task ends with the runner)

    def _replace_tab(self, index: int, view: QWidget, title: str) -> None:
        current = self.tabs.currentIndex()
        self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, view, icons.icon("uploads"), title)
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)

    def _tab_changed(self, index: int) -> None:
        if index == UPLOADS_TAB and self.uploads_browser is None:
            self.ensure_uploads_browser()
        if index == BUCKETS_TAB and self.account_view is None:
            self.ensure_account_view()

    def _cancel_aborted_transfers(self, ids: list[int]) -> None:
        """Transfers whose uploads the account view aborted cannot resume:
        the engine marks them cancelled (its abort finds nothing left)."""
        snapshot = self.engine.current_snapshot()
        live = [i for i in ids if (t := snapshot.by_id(i)) is not None
                and t.state not in FINAL_STATES]
        if live:
            self.engine.cancel(live)

    def _open_bucket_uploads(self, account: str, bucket: str) -> None:
        browser = self.ensure_uploads_browser()
        if browser is None or not hasattr(browser, "set_location"):
            return
        browser.set_location(account, bucket)
        browser.list_uploads()
        self.tabs.setCurrentIndex(UPLOADS_TAB)
