"""The window's layout from one run to the next: its geometry (sized from the
screen, a saved one only where it still fits), the docks, the queue's and the
parts table's columns and sort, and the two splitters."""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter

from mpugui.ui.common import settings as cfg
from mpugui.ui.common.screen_fit import available_geometry, bounded, fits, size_to_screen
from mpugui.ui.parts.part_panel import PartPanel
from mpugui.ui.queue.queue_view import QueueView


class WindowLayout:
    def __init__(self, window: QMainWindow, settings: QSettings, queue: QueueView,
                 part_panel: PartPanel, splitter: QSplitter, log_dock: QDockWidget) -> None:
        self.window, self.settings = window, settings
        self.queue, self.part_panel, self.splitter = queue, part_panel, splitter
        self.log_dock = log_dock

    def restore(self) -> None:
        s, window = self.settings, self.window
        # Sized from this screen; a saved geometry only where it still fits
        # (another monitor, a new scale factor).
        area = available_geometry(window)
        geometry = cfg.blob(s, cfg.GEOMETRY)
        if geometry is None or not window.restoreGeometry(geometry) \
                or not fits(window.geometry(), area):
            size_to_screen(window, QSize(1180, 760), QSize(720, 480))
        else:
            window.setMinimumSize(bounded(QSize(720, 480), area))
        state = cfg.blob(s, cfg.WINDOW_STATE)
        if state is not None:
            window.restoreState(state)
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

    def save(self) -> None:
        s = self.settings
        s.setValue(cfg.GEOMETRY, self.window.saveGeometry())
        s.setValue(cfg.WINDOW_STATE, self.window.saveState())
        s.setValue(cfg.QUEUE_HEADER, self.queue.horizontalHeader().saveState())
        s.setValue(cfg.PARTS_HEADER, self.part_panel.table.horizontalHeader().saveState())
        s.setValue(cfg.MAIN_SPLITTER, self.splitter.saveState())
        s.setValue(cfg.PART_SPLITTER, self.part_panel.splitter.saveState())
        s.sync()
