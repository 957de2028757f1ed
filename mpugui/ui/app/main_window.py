"""The main window: the composition that wires the pieces. Three tabs — the
queue with the live part view of the selected transfer below it, the
in-progress uploads and all buckets (upload_tabs) — the toolbar and menus
(menus), the status bar and the log dock. What the selection can do is in
selection, the Settings menu in preferences, the layout between runs in
window_state, the other windows in dialogs; the window itself adds files
(the file dialogs, drops, the sandbox's start) and closes everything."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QResizeEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from mpugui.core.accounts import AccountStore
from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.states import WAITING
from mpugui.core.transfer.snapshot import EngineSnapshot
from mpugui.engine.engine import TransferEngine
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.app.actions import Actions
from mpugui.ui.app.dialogs import Dialogs
from mpugui.ui.app.log_dock import LogDock
from mpugui.ui.app.menus import build_menus, build_toolbar, queue_menu
from mpugui.ui.app.notifier import Notifier
from mpugui.ui.app.preferences import Preferences
from mpugui.ui.app.quit_guard import QuitGuard
from mpugui.ui.app.sandbox_banner import SandboxBanner
from mpugui.ui.app.selection import SelectionActions
from mpugui.ui.app.status_bar import MessageFitter, StatusPanel
from mpugui.ui.app.upload_tabs import UploadTabs
from mpugui.ui.app.window_state import WindowLayout
from mpugui.ui.common import icons
from mpugui.ui.common.messages import AlertPresenter, MessageBridge
from mpugui.ui.common.palette import forget_palette
from mpugui.ui.parts.part_panel import PartPanel
from mpugui.ui.queue.adder import DestinationLike, PathAdder
from mpugui.ui.queue.queue_columns import ID_ROLE
from mpugui.ui.queue.queue_model import QueueModel, QueueProxy
from mpugui.ui.queue.queue_view import QueueView, local_paths

if TYPE_CHECKING:
    from mpugui.ui.uploads.in_progress_tab import UploadsBrowser

NARROW_STATUS = 900  # logical px: below, the status bar drops its speed graph
# Quitting waits at most this long for the workers and the task pool (in all,
# whatever the network does); requests still held are resumed at the next start.
SHUTDOWN_SECONDS = 2.5


class MainWindow(QMainWindow):
    paths_added = Signal(int)  # files handed to the engine after one add_paths()

    def __init__(self, engine: TransferEngine, journal: Journal, accounts: AccountStore,
                 runner: TaskRunner, clients: ClientFactory, bridge: MessageBridge,
                 settings: QSettings, sandbox: Any = None) -> None:
        super().__init__()
        self.engine, self.journal, self.accounts = engine, journal, accounts
        self.runner, self.clients, self.bridge, self.settings = runner, clients, bridge, settings
        self.sandbox = sandbox
        self._closed = False
        self._current_id: int | None = None
        self._waiting_for_sandbox: list[tuple[list[str], DestinationLike]] = []
        self.quit_guard = QuitGuard(self, engine, settings)
        self.stopped_cleanly = True  # False: requests were left on the wire at shutdown

        self.setObjectName("mainWindow")
        self.setWindowTitle("mpugui — Sandbox" if sandbox else "mpugui")
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)

        self.acts = Actions(self)
        self.model = QueueModel(self)
        self.proxy = QueueProxy(self)
        self.proxy.setSourceModel(self.model)
        self.queue = QueueView()
        self.queue.setModel(self.proxy)
        self.queue.setup_columns()
        self.queue.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.part_panel = PartPanel()
        # The parts pane belongs to the queue: the In-progress uploads tab
        # gets the window's whole height (its own parts table is beside it).
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.queue)
        self.splitter.addWidget(self.part_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, icons.icon("uploading"), "Queue")

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner: SandboxBanner | None = None
        if sandbox is not None:  # says "starting…" until the sandbox's server answers
            self.banner = SandboxBanner(sandbox)
            self.banner.ready.connect(self._sandbox_ready)
            self.banner.network_back.connect(self._sandbox_network_back)
            layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.status = StatusPanel()
        self.statusBar().addPermanentWidget(self.status)
        self.statusBar().setSizeGripEnabled(True)
        self.messages = MessageFitter(self.statusBar(), self.status, bridge)
        self.log_dock = LogDock(bridge, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.alerts = AlertPresenter(bridge, self)
        self.notifier = Notifier(self.model, self.statusBar(),
                                 lambda: self.acts["notify"].isChecked(), self)
        self.adder = PathAdder(engine, bridge, self)
        self.adder.added.connect(self.paths_added)
        self.adder.status.connect(self.messages.show)

        self.selection = SelectionActions(self, engine, self.model, self.proxy, self.queue,
                                          self.acts)
        self.prefs = Preferences(self, engine, settings, self.acts, self.part_panel,
                                 self.status.bandwidth)
        self.dialogs = Dialogs(self, accounts, runner, clients, bridge)
        self.upload_tabs = UploadTabs(self, self.tabs, accounts, runner, clients, journal,
                                      engine, self.dialogs.open_prices, sandbox, self.banner)
        self.dialogs.accounts_changed.connect(self.upload_tabs.accounts_changed)
        self.dialogs.prices_changed.connect(self.upload_tabs.prices_changed)
        self.layout_state = WindowLayout(self, settings, self.queue, self.part_panel,
                                         self.splitter, self.log_dock)
        self.toolbar, self.filter_edit = build_toolbar(self.acts)
        self.addToolBar(self.toolbar)
        self.prices_action = build_menus(self.menuBar(), self.acts,
                                         self.log_dock.toggleViewAction(), self.prefs)
        self.prices_action.triggered.connect(self.dialogs.open_prices)
        self._connect()
        self.layout_state.restore()
        self.prefs.restore()
        self.selection.update_actions()
        self._on_snapshot(engine.current_snapshot())

    def _connect(self) -> None:
        a = self.acts
        self.engine.snapshot.connect(self._on_snapshot)
        self.queue.paths_dropped.connect(self.offer_paths)
        self.queue.customContextMenuRequested.connect(self._context_menu)
        self.queue.selectionModel().selectionChanged.connect(self._selection_changed)
        # Rows filtered out or removed leave the selection without a signal.
        for changed in (self.proxy.rowsRemoved, self.proxy.modelReset,
                        self.proxy.layoutChanged):
            changed.connect(self._follow_selection)
        self.queue.selectionModel().currentRowChanged.connect(self._current_changed)
        self.queue.doubleClicked.connect(lambda _i: self.part_panel.grid.setFocus())
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        a["add_files"].triggered.connect(self.choose_files)
        a["add_folder"].triggered.connect(self.choose_folder)
        a["accounts"].triggered.connect(self.dialogs.open_accounts)
        a["show_uploads"].triggered.connect(lambda: self.tabs.setCurrentIndex(1))

        def find() -> None:
            self.filter_edit.setFocus()
            self.filter_edit.selectAll()
        a["find"].triggered.connect(find)
        a["about"].triggered.connect(self.dialogs.about)
        a["quit"].triggered.connect(self.request_quit)

    # -- engine -> view ---------------------------------------------------------

    def _on_snapshot(self, snap: EngineSnapshot) -> None:
        """One engine tick: what changed goes to the model; the counts and
        totals the engine keeps go to the status bar and the actions."""
        self.model.update(snap)
        self.status.update_from(snap if any(snap.counts.values()) else None)
        if self._current_id is not None:
            self.part_panel.set_transfer(self.model.transfer(self._current_id))
        for ev in snap.events:  # the tick's state changes, read here rather than a signal each
            self.notifier.on_state_changed(ev.id, ev.state)
        self.selection.on_tick(snap)

    # -- the parts pane follows the current row -------------------------------------

    def _selection_changed(self, *_: object) -> None:
        self.selection.update_actions()
        self._follow_selection()

    def _follow_selection(self, *_: object) -> None:
        """The parts pane shows the current row only while something is
        selected (checks the selection's ranges, never the rows)."""
        selection = self.queue.selectionModel()
        current = selection.currentIndex() if selection.hasSelection() else QModelIndex()
        wanted = current.data(ID_ROLE) if current.isValid() else None
        if wanted != self._current_id and not self._closed:
            self._current_changed(current, QModelIndex())
            self.selection.schedule()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._current_id = current.data(ID_ROLE) if current.isValid() else None
        self.part_panel.set_transfer(
            self.model.transfer(self._current_id) if self._current_id is not None else None)

    def _context_menu(self, pos: QPoint) -> None:
        queue_menu(self.acts, self).popup(self.queue.viewport().mapToGlobal(pos))

    # -- the other tabs, opened on first use --------------------------------------

    def ensure_uploads_browser(self) -> UploadsBrowser | None:
        return self.upload_tabs.ensure_uploads_browser()

    def ensure_account_view(self) -> QWidget:
        return self.upload_tabs.ensure_account_view()

    # -- adding files -----------------------------------------------------------

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add files to upload")
        if paths:
            self.offer_paths(paths)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder to upload")
        if path:
            self.offer_paths([path])

    def offer_paths(self, paths: list[str]) -> QWidget | None:
        """Ask where dropped/opened paths go (the destination dialog, non-modal)."""
        return self.dialogs.ask_destination(paths, self.add_paths)

    def add_paths(self, paths: list[str], dest: DestinationLike) -> None:
        """Queue `paths` (files and folders) for `dest`; emits paths_added.
        While the sandbox starts, they wait for it (its server would refuse)."""
        if self.banner is not None and not self.banner.is_ready:
            self._waiting_for_sandbox.append((paths, dest))
            self.statusBar().showMessage("Waiting for the sandbox to start…", 10000)
            return
        self.adder.add_paths(paths, dest)

    def _sandbox_ready(self) -> None:
        waiting, self._waiting_for_sandbox = self._waiting_for_sandbox, []
        for paths, dest in waiting:
            self.adder.add_paths(paths, dest)
        self.upload_tabs.sandbox_ready()

    def _sandbox_network_back(self) -> None:
        """The simulated network loss is over: retry the waiting transfers now
        (Retry now), not after the probe's backoff (up to 30 s), so the demo
        shows the resume at once. One pass over the queue, once per click."""
        e = self.engine
        e.in_slices("resume", [i for i in e.transfer_ids() if e.state_of(i) == WAITING])
        self.statusBar().showMessage("Network back (sandbox): the waiting uploads carry on.",
                                     8000)

    # -- drops anywhere on the window ---------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.offer_paths(paths)

    # -- palette changes and closing ----------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # A narrow window (scale 2 on 1366x768) keeps the counts and the
        # limit whole in the status bar; the speed graph goes first.
        self.status.graph.setVisible(self.width() >= NARROW_STATUS)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            icons.clear_cache()
            forget_palette()
            self.acts.refresh_icons()
        super().changeEvent(event)

    def request_quit(self) -> None:
        """Quit (Ctrl+Q, the window's close button): asks first while uploads
        run, unless told not to (see quit_guard)."""
        if not self._closed and self.quit_guard.needed():
            self.quit_guard.ask(self.close)
        else:
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        # A close from the window manager asks as Quit does; close() from the
        # code (Quit answered, a signal, tests) does not.
        if event.spontaneous() and not self._closed and self.quit_guard.needed():
            event.ignore()
            self.quit_guard.ask(self.close)
            return
        if not self._closed:
            self.layout_state.save()
            self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop everything this window started; the engine's running uploads
        keep their journal state and come back at the next start."""
        if self._closed:
            return
        self._closed = True
        self.notifier.stop()
        self.selection.stop()
        if self.banner is not None:
            self.banner.stop()
        self.adder.stop()
        self.statusBar().clearMessage()  # stops the status bar's message timer
        self.dialogs.close_all()
        self.upload_tabs.close()
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        stopped = self.engine.shutdown(timeout=SHUTDOWN_SECONDS)
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        stopped = self.runner.shutdown(wait_ms=left_ms) and stopped
        self.stopped_cleanly = stopped
