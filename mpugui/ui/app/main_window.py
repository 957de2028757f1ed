"""The main window: two tabs — the queue with the live part view of the
selected transfer below it, and the in-progress uploads browser — the status
bar and the log dock. Behaviour lives in the models, views and panels; the
window wires them to the engine and the actions."""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QEvent, QModelIndex, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.accounts import AccountStore
from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.states import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    MOVING_STATES,
    PAUSED,
    QUEUED,
    UPLOADING,
    WAITING,
)
from mpugui.core.transfer.snapshot import REMOVED, EngineSnapshot, TransferSnapshot
from mpugui.core.units import plural
from mpugui.engine.engine import TransferEngine
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.app.actions import Actions
from mpugui.ui.app.log_dock import LogDock
from mpugui.ui.app.notifier import Notifier
from mpugui.ui.app.quit_guard import QuitGuard
from mpugui.ui.app.sandbox_banner import SandboxBanner
from mpugui.ui.app.status_bar import StatusPanel
from mpugui.ui.common import icons
from mpugui.ui.common import settings as cfg
from mpugui.ui.common.fitting_toolbar import FittingToolBar
from mpugui.ui.common.messages import AlertPresenter, MessageBridge
from mpugui.ui.common.palette import forget_palette
from mpugui.ui.common.screen_fit import available_geometry, bounded, fits, size_to_screen
from mpugui.ui.parts.part_panel import PartPanel
from mpugui.ui.queue.adder import DestinationLike, PathAdder
from mpugui.ui.queue.queue_model import ID_ROLE, QueueModel, QueueProxy
from mpugui.ui.queue.queue_view import QueueView, local_paths

if TYPE_CHECKING:  # imported when first shown (ensure_uploads_browser)
    from mpugui.ui.uploads.uploads_browser import UploadsBrowser

# Settings ▸ When the network is down: seconds to wait before giving up (0: until back).
MAX_WAIT_CHOICES = ((0, "Wait until it is back"), (600, "Give up after 10 minutes"),
                    (3600, "Give up after 1 hour"), (8 * 3600, "Give up after 8 hours"))

log = logging.getLogger("mpugui.ui")

_ADD_SLICE_S = 0.02  # time box per batch of engine.add calls on the GUI thread
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
        self._dialogs: list[QWidget] = []
        self._current_id: int | None = None
        self._any_paused = self._any_running = False
        # asked here to cancel, retry or resume: a failure of it is said here too
        self._cancelling: set[int] = set()
        self._waiting_for_sandbox: list[tuple[list[str], DestinationLike]] = []
        self.confirm_box: QMessageBox | None = None
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
        self._uploads_placeholder = QLabel("Loading…")
        self.uploads_browser: UploadsBrowser | None = None
        self.tabs.addTab(self._uploads_placeholder, icons.icon("uploads"), "In-progress uploads")
        # Every bucket of an account at once (mpugui.ui.uploads.account_view), made on first use.
        self._account_placeholder = QLabel("Loading…")
        self.account_view: QWidget | None = None
        self.tabs.addTab(self._account_placeholder, icons.icon("uploads"), "All buckets")

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
        self._eliding = False
        self.statusBar().messageChanged.connect(self._message_fits)
        self.log_dock = LogDock(bridge, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.alerts = AlertPresenter(bridge, self)
        self.notifier = Notifier(self.model, self.statusBar(),
                                 lambda: self.acts["notify"].isChecked(), self)
        self.adder = PathAdder(engine, bridge, self)
        self.adder.added.connect(self.paths_added)
        self.adder.status.connect(self._show_status)
        # state changes come in bursts (a 10,000-file drop): re-check the
        # actions once per burst, not once per transfer
        self._actions_timer = QTimer(self)
        self._actions_timer.setObjectName("mpugui-actions")
        self._actions_timer.setSingleShot(True)
        self._actions_timer.setInterval(0)
        self._actions_timer.timeout.connect(self._update_actions)

        self._build_toolbar()
        self._build_menus()
        self._connect()
        self._restore_state()
        self._update_actions()
        self._on_snapshot(engine.current_snapshot())

    # -- construction ---------------------------------------------------------

    def _build_toolbar(self) -> None:
        a = self.acts
        bar = FittingToolBar("Main toolbar")  # narrow windows: labels go first
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setIconSize(bar.iconSize().scaled(20, 20, Qt.AspectRatioMode.KeepAspectRatio))
        for item in (a["add_files"], a["add_folder"], None, a["pause"], a["resume"],
                     a["cancel"], a["retry"], a["remove"], None, a["pause_all"],
                     a["resume_all"]):
            if item is None:
                bar.addSeparator()
            else:
                bar.addAction(item)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("queueFilter")
        self.filter_edit.setPlaceholderText("Filter by name or destination")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.addAction(icons.icon("filter"), QLineEdit.ActionPosition.LeadingPosition)
        self.filter_edit.setMinimumWidth(150)
        self.filter_edit.setMaximumWidth(260)
        self.filter_edit.setAccessibleName("Filter the queue")
        bar.addWidget(self.filter_edit)
        bar.addAction(a["accounts"])
        bar.keep_labels(a["add_files"], a["add_folder"])
        self.addToolBar(bar)
        self.toolbar = bar

    def _build_menus(self) -> None:
        a = self.acts
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for act in (a["add_files"], a["add_folder"], None, a["accounts"], None, a["quit"]):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        tr = menus.addMenu("&Transfers")
        for act in (a["pause"], a["resume"], a["cancel"], a["retry"], None, a["remove"],
                    a["remove_finished"], None, a["pause_all"], a["resume_all"], None,
                    a["copy_uri"]):
            tr.addSeparator() if act is None else tr.addAction(act)
        view = menus.addMenu("&View")
        view.addAction(a["find"])
        view.addAction(a["show_uploads"])
        view.addAction(a["show_parts"])
        log_toggle = self.log_dock.toggleViewAction()
        log_toggle.setShortcut(QKeySequence("Ctrl+L"))
        view.addAction(log_toggle)
        self.acts.by_name["show_log"] = log_toggle
        prefs = menus.addMenu("&Settings")
        prefs.addAction(a["auto_resume"])
        prefs.addAction(a["notify"])
        self._max_wait_menu(prefs.addMenu("When the network is &down"))
        prefs.addSeparator()
        self.prices_action = prefs.addAction("Storage &prices…")
        self.prices_action.triggered.connect(self.open_prices)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(a["about"])

    def _max_wait_menu(self, menu: Any) -> None:
        """Wait for the network until it is back (default), or give up after
        a time: the transfers then fail, resumable (Retry)."""
        group = QActionGroup(self)
        self._max_wait_acts: dict[int, QAction] = {}
        for seconds, text in MAX_WAIT_CHOICES:
            act = QAction(text, self, checkable=True)
            act.setData(seconds)
            group.addAction(act)
            menu.addAction(act)
            self._max_wait_acts[seconds] = act
            act.triggered.connect(functools.partial(self._set_max_wait, seconds))

    def _set_max_wait(self, seconds: int) -> None:
        self.engine.set_max_wait(seconds or None)
        cfg.put(self.settings, cfg.MAX_WAIT, seconds)

    def _connect(self) -> None:
        a = self.acts
        e = self.engine
        e.snapshot.connect(self._on_snapshot)
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
        self.status.bandwidth.limit_changed.connect(self._set_limit)
        self.tabs.currentChanged.connect(self._tab_changed)
        a["add_files"].triggered.connect(self.choose_files)
        a["add_folder"].triggered.connect(self.choose_folder)
        # in slices: a selection of 100,000 rows never holds the window up
        a["pause"].triggered.connect(lambda: e.in_slices("pause", self.selected_ids()))
        a["resume"].triggered.connect(self.resume_selected)
        a["cancel"].triggered.connect(self.confirm_cancel)
        a["retry"].triggered.connect(self.retry_selected)
        a["remove"].triggered.connect(self.remove_selected)
        a["remove_finished"].triggered.connect(self.remove_finished)
        a["pause_all"].triggered.connect(lambda: e.in_slices("pause", e.transfer_ids()))
        a["resume_all"].triggered.connect(lambda: e.in_slices("resume", e.transfer_ids()))
        a["copy_uri"].triggered.connect(self.copy_uris)
        a["accounts"].triggered.connect(self.open_accounts)
        a["show_uploads"].triggered.connect(lambda: self.tabs.setCurrentIndex(1))
        a["show_parts"].toggled.connect(self._show_parts_pane)
        def find() -> None:
            self.filter_edit.setFocus()
            self.filter_edit.selectAll()
        a["find"].triggered.connect(find)
        a["auto_resume"].toggled.connect(lambda on: cfg.put(self.settings, cfg.AUTO_RESUME, on))
        a["notify"].toggled.connect(lambda on: cfg.put(self.settings, cfg.NOTIFY, on))
        a["about"].triggered.connect(self._about)
        a["quit"].triggered.connect(self.request_quit)

    # -- settings ---------------------------------------------------------------

    def _restore_state(self) -> None:
        s = self.settings
        # Sized from this screen; a saved geometry only where it still fits
        # (another monitor, a new scale factor).
        area = available_geometry(self)
        geometry = cfg.blob(s, cfg.GEOMETRY)
        if geometry is None or not self.restoreGeometry(geometry) \
                or not fits(self.geometry(), area):
            size_to_screen(self, QSize(1180, 760), QSize(720, 480))
        else:
            self.setMinimumSize(bounded(QSize(720, 480), area))
        state = cfg.blob(s, cfg.WINDOW_STATE)
        if state is not None:
            self.restoreState(state)
        else:
            self.log_dock.hide()
        for key, target in ((cfg.QUEUE_HEADER, self.queue.horizontalHeader()),
                            (cfg.PARTS_HEADER, self.part_panel.table.horizontalHeader()),
                            (cfg.MAIN_SPLITTER, self.splitter),
                            (cfg.PART_SPLITTER, self.part_panel.splitter)):
            blob = cfg.blob(s, key)
            if blob is not None:
                target.restoreState(blob)
        header = self.queue.horizontalHeader()
        if cfg.blob(s, cfg.QUEUE_HEADER) is not None and header.isSortIndicatorShown():
            self.queue.sortByColumn(header.sortIndicatorSection(), header.sortIndicatorOrder())
        if cfg.blob(s, cfg.MAIN_SPLITTER) is None:
            self.splitter.setSizes([300, 400])
        if cfg.blob(s, cfg.PART_SPLITTER) is None:
            self.part_panel.splitter.setSizes([600, 680])
        self.acts["show_parts"].setChecked(cfg.get(s, cfg.SHOW_PARTS))
        self._show_parts_pane(self.acts["show_parts"].isChecked())
        self.acts["auto_resume"].setChecked(cfg.get(s, cfg.AUTO_RESUME))
        self.acts["notify"].setChecked(cfg.get(s, cfg.NOTIFY))
        max_wait = cfg.get(s, cfg.MAX_WAIT)
        act = self._max_wait_acts.get(max_wait)
        if act is None:  # a value written by hand: keep it, show no choice
            act = QAction(f"Give up after {max_wait} s", self, checkable=True)
        act.setChecked(True)
        self.engine.set_max_wait(max_wait or None)
        limit = cfg.get(s, cfg.BANDWIDTH_LIMIT)
        self.status.bandwidth.set_limit(limit)
        if limit:
            self.engine.set_bandwidth_limit(limit)

    def save_state(self) -> None:
        s = self.settings
        s.setValue(cfg.GEOMETRY, self.saveGeometry())
        s.setValue(cfg.WINDOW_STATE, self.saveState())
        s.setValue(cfg.QUEUE_HEADER, self.queue.horizontalHeader().saveState())
        s.setValue(cfg.PARTS_HEADER, self.part_panel.table.horizontalHeader().saveState())
        s.setValue(cfg.MAIN_SPLITTER, self.splitter.saveState())
        s.setValue(cfg.PART_SPLITTER, self.part_panel.splitter.saveState())
        s.sync()

    def _show_parts_pane(self, on: bool) -> None:
        self.part_panel.setVisible(on)
        cfg.put(self.settings, cfg.SHOW_PARTS, on)

    def _set_limit(self, rate: int) -> None:
        self.engine.set_bandwidth_limit(rate)
        cfg.put(self.settings, cfg.BANDWIDTH_LIMIT, rate)

    # -- engine -> view ---------------------------------------------------------

    def _on_snapshot(self, snap: EngineSnapshot) -> None:
        """One engine tick: what changed goes to the model; the counts and
        totals the engine keeps go to the status bar and the actions."""
        self.model.update(snap)
        self.status.update_from(snap if any(snap.counts.values()) else None)
        running = snap.count(QUEUED, UPLOADING, WAITING) > 0
        paused = snap.count(PAUSED, FAILED) > 0
        if (running, paused) != (self._any_running, self._any_paused):
            self._any_running, self._any_paused = running, paused
            self._update_actions()
        if self._current_id is not None:
            self.part_panel.set_transfer(self.model.transfer(self._current_id))
        if snap.events:  # the tick's state changes, read here rather than a signal each
            for ev in snap.events:
                self.notifier.on_state_changed(ev.id, ev.state)
                if ev.id in self._cancelling and ev.state in (CANCELLED, FAILED, DONE,
                                                              PAUSED, REMOVED):
                    self._cancelling.discard(ev.id)
                    if ev.state == FAILED:
                        self._say_failed(ev.id, ev.detail)
            if not self._closed:
                self._actions_timer.start()

    def _selection_changed(self, *_: object) -> None:
        self._update_actions()
        self._follow_selection()

    def _follow_selection(self, *_: object) -> None:
        """The parts pane shows the current row only while something is
        selected (checks the selection's ranges, never the rows)."""
        selection = self.queue.selectionModel()
        current = selection.currentIndex() if selection.hasSelection() else QModelIndex()
        wanted = current.data(ID_ROLE) if current.isValid() else None
        if wanted != self._current_id and not self._closed:
            self._current_changed(current, QModelIndex())
            self._actions_timer.start()

    def _say_failed(self, transfer_id: int, sentence: str) -> None:
        """A user action that failed, said where the user is: the status bar
        (the row's state and tooltip and the log dock say it as well)."""
        t = self.model.transfer(transfer_id)
        name = t.name if t is not None else f"Transfer {transfer_id}"
        self.statusBar().showMessage(f"{name}: {sentence}", 20000)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._current_id = current.data(ID_ROLE) if current.isValid() else None
        self.part_panel.set_transfer(
            self.model.transfer(self._current_id) if self._current_id is not None else None)

    # -- selection and actions --------------------------------------------------

    def _selected_runs(self) -> list[tuple[int, int]]:
        """The selected rows of the model as ascending (first, last) runs,
        read from the selection's ranges: Ctrl+A over 100,000 rows is one
        range, not 100,000 QModelIndex objects."""
        selection = self.proxy.mapSelectionToSource(self.queue.selectionModel().selection())
        last_col = self.model.columnCount() - 1
        spans = sorted((r.top(), r.bottom())
                       for r in selection  # type: ignore[attr-defined]  # a list; stubs lack __iter__
                       if r.left() == 0 and r.right() == last_col)  # whole rows only
        runs: list[tuple[int, int]] = []
        for top, bottom in spans:
            if runs and top <= runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], max(runs[-1][1], bottom))
            else:
                runs.append((top, bottom))
        return runs

    def selected_transfers(self) -> list[TransferSnapshot]:
        return [t for first, last in self._selected_runs()
                for t in self.model.rows(first, last)]

    def selected_ids(self) -> list[int]:
        return [t.id for t in self.selected_transfers()]

    def selected_states(self) -> set[str]:
        runs = self._selected_runs()
        if sum(last - first + 1 for first, last in runs) == self.model.rowCount():
            return self.model.shown_states()  # all of them: kept by the model
        return {t.state for first, last in runs for t in self.model.rows(first, last)}

    def _update_actions(self) -> None:
        if self._closed:
            return
        self.acts.update_for(self.selected_states(), self._any_paused, self._any_running)
        self.acts["remove_finished"].setEnabled(self.model.rowCount() > 0)

    def _context_menu(self, pos) -> None:
        a = self.acts
        menu = QMenu(self)
        for act in (a["pause"], a["resume"], a["cancel"], a["retry"], None, a["remove"], None,
                    a["copy_uri"], None, a["add_files"], a["add_folder"]):
            menu.addSeparator() if act is None else menu.addAction(act)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.queue.viewport().mapToGlobal(pos))

    def confirm_cancel(self) -> None:
        chosen = [t for t in self.selected_transfers() if t.state not in FINAL_STATES]
        ids = [t.id for t in chosen]
        if not ids:
            return
        what = "this upload" if len(ids) == 1 else f"these {len(ids)} uploads"
        box = QMessageBox(QMessageBox.Icon.Warning, "Cancel uploads",
                          f"Cancel {what}?", QMessageBox.StandardButton.NoButton, self)
        box.setInformativeText("The parts already uploaded are deleted from the bucket, so "
                               "the upload cannot be resumed later. Pause keeps them.")
        self._cancel_yes = box.addButton("Cancel and delete parts",
                                         QMessageBox.ButtonRole.DestructiveRole)
        # "Keep uploading" only where something uploads: a failed one is kept, not sent.
        running = any(t.state in MOVING_STATES for t in chosen)
        keep_text = "Keep uploading" if running else (
            "Keep the upload" if len(ids) == 1 else "Keep the uploads")
        keep = box.addButton(keep_text, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._cancel_ids = ids
        box.finished.connect(self._cancel_answered)
        self.confirm_box = box
        box.open()

    def _cancel_answered(self, _result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None and box.clickedButton() is self._cancel_yes:
            self._cancelling.update(self._cancel_ids)
            self.engine.cancel(self._cancel_ids)
        self._cancel_ids = []

    def resume_selected(self) -> None:
        ids = self.selected_ids()
        self._watch(ids)
        self.engine.in_slices("resume", ids)

    def retry_selected(self) -> None:
        """engine.retry: failed ones resume, waiting ones probe their endpoint
        now ("Retry now"), cancelled ones start over as new transfers."""
        selected = self.selected_transfers()
        again = [t.id for t in selected if t.state in (FAILED, WAITING)]
        self._watch(again)
        refused: list[str] = []
        self._watch(self.engine.retry(
            again + [t.id for t in selected if t.state == CANCELLED], refused))
        if refused:  # each sentence names its file
            more = f" ({len(refused) - 1:,} more in the log)" if len(refused) > 1 else ""
            self.statusBar().showMessage(refused[0] + more, 20000)

    def _watch(self, ids: list[int]) -> None:
        """Say in the status bar if these transfers fail after the user's
        action (a small set: what was selected; forgotten at their outcome)."""
        if len(ids) <= 1000:
            self._cancelling.update(ids)

    def remove_selected(self) -> None:
        selected = self.selected_transfers()
        removed = self.engine.remove([t.id for t in selected])
        kept = len(selected) - len(removed)
        if kept:  # running ones are not removed: say so and what to do instead
            self.statusBar().showMessage(
                f"{plural(kept, 'transfer')} still running {'was' if kept == 1 else 'were'} "
                "not removed: pause or cancel {0} first.".format(
                    "it" if kept == 1 else "them"), 20000)
        elif removed and {PAUSED, FAILED} & {t.state for t in selected}:
            self.statusBar().showMessage(
                "Unfinished uploads removed from the list stay in the bucket; the "
                "In-progress uploads tab finds them.", 10000)

    def remove_finished(self) -> None:
        """Every done and cancelled transfer, in one engine call."""
        self.engine.remove_finished()

    def copy_uris(self) -> None:
        uris = [t.uri for t in self.selected_transfers()]
        if uris:
            QGuiApplication.clipboard().setText("\n".join(uris))
            self.statusBar().showMessage(
                f"Copied {uris[0]}" if len(uris) == 1 else f"Copied {len(uris)} S3 URIs", 4000)

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
        if not paths:
            return None
        try:
            from mpugui.ui.destination.destination_dialog import DestinationDialog
        except ImportError:
            self.bridge.post("error", "The destination dialog is not available in this build.")
            return None
        dialog = DestinationDialog(self.accounts, self.runner, self.clients, list(paths), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # partial/bound methods, not lambdas holding the dialog: the dialog
        # deletes itself on close and must not be kept alive by its own signals
        dialog.accepted_destination.connect(functools.partial(self.add_paths, list(paths)))
        dialog.destroyed.connect(self._prune_dialogs)
        self._dialogs.append(dialog)
        dialog.show()
        dialog.raise_()
        return dialog

    def _prune_dialogs(self, *_: object) -> None:
        self._dialogs = [d for d in self._dialogs if shiboken6.isValid(d)]

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
        browser = self.uploads_browser
        if browser is not None and hasattr(browser, "list_uploads"):
            browser.list_uploads()

    def _sandbox_network_back(self) -> None:
        """The simulated network loss is over: retry the waiting transfers now
        (Retry now), not after the probe's backoff (up to 30 s), so the demo
        shows the resume at once. One pass over the queue, once per click."""
        e = self.engine
        e.in_slices("resume", [i for i in e.transfer_ids() if e.state_of(i) == WAITING])
        self.statusBar().showMessage("Network back (sandbox): the waiting uploads carry on.",
                                     8000)

    def _message_fits(self, text: str) -> None:
        """A sentence longer than the room beside the counts would be cut
        mid-word (1366 px wide, a failure's reason): it is shown shortened,
        whole in the tooltip and in the log view."""
        if self._eliding:
            return
        bar = self.statusBar()
        bar.setToolTip(text)
        if not text:
            return
        metrics = bar.fontMetrics()
        room = bar.width() - self.status.width() - 40
        if metrics.horizontalAdvance(text) <= room:
            return
        self.bridge.post("info", text, source="status")
        hint = " — whole in the log (Ctrl+L)"
        if room - metrics.horizontalAdvance(hint) < 120:
            hint = ""  # too narrow for both: the tooltip and the log have it
        short = metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                   max(40, room - metrics.horizontalAdvance(hint)))
        self._eliding = True
        try:
            bar.showMessage(short + hint, 20000)
        finally:
            self._eliding = False

    def _show_status(self, text: str, timeout_ms: int) -> None:
        if text:
            self.statusBar().showMessage(text, timeout_ms)
        else:
            self.statusBar().clearMessage()

    # -- other windows --------------------------------------------------------------

    def open_accounts(self) -> QWidget | None:
        try:
            from mpugui.ui.accounts.account_dialog import AccountsDialog
        except ImportError:
            self.bridge.post("error", "The accounts dialog is not available in this build.")
            return None
        self._prune_dialogs()
        for d in self._dialogs:
            if type(d).__name__ == "AccountsDialog":
                d.raise_()
                d.activateWindow()
                return d
        dialog = AccountsDialog(self.accounts, self.runner, self.clients, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # The In-progress tab lists with what the dialog saves, at once.
        dialog.accounts_changed.connect(self._accounts_changed)
        dialog.destroyed.connect(self._prune_dialogs)
        self._dialogs.append(dialog)
        dialog.show()
        return dialog

    def open_prices(self) -> QWidget:
        """Settings ▸ Storage prices: saved prices re-price both uploads tabs."""
        from mpugui.ui.uploads.prices_dialog import PricesDialog

        self._prune_dialogs()
        for d in self._dialogs:
            if isinstance(d, PricesDialog):
                d.raise_()
                d.activateWindow()
                return d
        dialog = PricesDialog(self.accounts, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._prices_changed)
        dialog.destroyed.connect(self._prune_dialogs)
        self._dialogs.append(dialog)
        dialog.show()
        return dialog

    def _prices_changed(self) -> None:
        for view in (self.uploads_browser, self.account_view):
            if view is not None and hasattr(view, "prices_changed"):
                view.prices_changed()

    def _accounts_changed(self) -> None:
        for view in (self.uploads_browser, self.account_view):
            if view is not None and hasattr(view, "reload_accounts"):
                view.reload_accounts()

    def _tab_changed(self, index: int) -> None:
        if index == 1 and self.uploads_browser is None:
            self.ensure_uploads_browser()
        if index == 2 and self.account_view is None:
            self.ensure_account_view()

    def ensure_account_view(self) -> QWidget:
        if self.account_view is not None:
            return self.account_view
        from mpugui.ui.uploads.account_view import AccountView

        view = AccountView(self.accounts, self.runner, self.clients, self.journal, self,
                           cancel_transfers=self._cancel_aborted_transfers)
        view.open_bucket.connect(self._open_bucket_uploads)
        if self.sandbox is not None:
            view.set_account(self.sandbox.account.name)
        self.account_view = view
        current = self.tabs.currentIndex()
        self.tabs.blockSignals(True)
        self.tabs.removeTab(2)
        self.tabs.insertTab(2, view, icons.icon("uploads"), "All buckets")
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        self._account_placeholder.deleteLater()
        return view

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
        self.tabs.setCurrentIndex(1)

    def ensure_uploads_browser(self) -> UploadsBrowser | None:
        if self.uploads_browser is not None:
            return self.uploads_browser
        try:
            from mpugui.ui.uploads.uploads_browser import UploadsBrowser
        except ImportError:
            self._uploads_placeholder.setText("The in-progress uploads browser is not "
                                              "available in this build.")
            return None
        browser = UploadsBrowser(self.accounts, self.runner, self.clients, self.journal,
                                 self.engine, self)
        self.uploads_browser = browser
        browser.prices_requested.connect(self.open_prices)
        if self.sandbox is not None and hasattr(browser, "set_location"):
            browser.set_location(self.sandbox.account.name, self.sandbox.bucket)
            ready = self.banner is None or self.banner.is_ready
            if hasattr(browser, "list_uploads") and ready:  # else once it is (_sandbox_ready)
                QTimer.singleShot(0, browser.list_uploads)
        current = self.tabs.currentIndex()
        self.tabs.blockSignals(True)
        self.tabs.removeTab(1)
        self.tabs.insertTab(1, browser, icons.icon("uploads"), "In-progress uploads")
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        self._uploads_placeholder.deleteLater()
        return browser

    def _about(self) -> None:
        from mpugui import __version__

        box = QMessageBox(QMessageBox.Icon.Information, "About mpugui",
                          f"<b>mpugui {__version__}</b><br>A desktop upload manager for Amazon "
                          "S3 and S3-compatible stores, built around multipart upload.",
                          QMessageBox.StandardButton.Close, self)
        box.setIconPixmap(icons.app_icon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

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

    def resizeEvent(self, event: Any) -> None:
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
            self.save_state()
            self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop everything this window started; the engine's running uploads
        keep their journal state and come back at the next start."""
        if self._closed:
            return
        self._closed = True
        self.notifier.stop()
        self._actions_timer.stop()
        if self.banner is not None:
            self.banner.stop()
        self.adder.stop()
        self.statusBar().clearMessage()  # stops the status bar's message timer
        self._prune_dialogs()
        for d in list(self._dialogs):
            d.close()
        if self.uploads_browser is not None:
            self.uploads_browser.close()
        if self.account_view is not None:
            self.account_view.close()  # stops a running scan (its task ends with the runner)
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        stopped = self.engine.shutdown(timeout=SHUTDOWN_SECONDS)
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        stopped = self.runner.shutdown(wait_ms=left_ms) and stopped
        self.stopped_cleanly = stopped
