"""The Settings menu's choices and the bandwidth limit: each kept in QSettings
and applied to the engine, at start (restore) and when changed. Resume at
start, notify, the parts pane, how long to wait for a network that is down,
and the limit from the status bar."""

from __future__ import annotations

import functools

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from mpugui.engine.engine import TransferEngine
from mpugui.ui.app.actions import Actions
from mpugui.ui.app.status_bar import BandwidthControl
from mpugui.ui.common import settings as cfg

# Settings ▸ When the network is down: seconds to wait before giving up (0: until back).
MAX_WAIT_CHOICES = ((0, "Wait until it is back"), (600, "Give up after 10 minutes"),
                    (3600, "Give up after 1 hour"), (8 * 3600, "Give up after 8 hours"))


class Preferences(QObject):
    def __init__(self, parent: QWidget, engine: TransferEngine, settings: QSettings,
                 acts: Actions, parts_pane: QWidget, bandwidth: BandwidthControl) -> None:
        super().__init__(parent)
        self.window = parent
        self.engine, self.settings, self.acts = engine, settings, acts
        self.parts_pane, self.bandwidth = parts_pane, bandwidth
        self.max_wait_acts: dict[int, QAction] = {}
        acts["show_parts"].toggled.connect(self._show_parts_pane)
        acts["auto_resume"].toggled.connect(lambda on: cfg.put(settings, cfg.AUTO_RESUME, on))
        acts["notify"].toggled.connect(lambda on: cfg.put(settings, cfg.NOTIFY, on))
        bandwidth.limit_changed.connect(self._set_limit)

    def max_wait_menu(self, menu: QMenu) -> None:
        """Wait for the network until it is back (default), or give up after
        a time: the transfers then fail, resumable (Retry)."""
        group = QActionGroup(self.window)
        for seconds, text in MAX_WAIT_CHOICES:
            act = QAction(text, self.window, checkable=True)
            act.setData(seconds)
            group.addAction(act)
            menu.addAction(act)
            self.max_wait_acts[seconds] = act
            act.triggered.connect(functools.partial(self._set_max_wait, seconds))

    def restore(self) -> None:
        s = self.settings
        self.acts["show_parts"].setChecked(cfg.get(s, cfg.SHOW_PARTS))
        self._show_parts_pane(self.acts["show_parts"].isChecked())
        self.acts["auto_resume"].setChecked(cfg.get(s, cfg.AUTO_RESUME))
        self.acts["notify"].setChecked(cfg.get(s, cfg.NOTIFY))
        max_wait = cfg.get(s, cfg.MAX_WAIT)
        act = self.max_wait_acts.get(max_wait)
        if act is None:  # a value written by hand: keep it, show no choice
            act = QAction(f"Give up after {max_wait} s", self.window, checkable=True)
        act.setChecked(True)
        self.engine.set_max_wait(max_wait or None)
        limit = cfg.get(s, cfg.BANDWIDTH_LIMIT)
        self.bandwidth.set_limit(limit)
        if limit:
            self.engine.set_bandwidth_limit(limit)

    def _set_max_wait(self, seconds: int) -> None:
        self.engine.set_max_wait(seconds or None)
        cfg.put(self.settings, cfg.MAX_WAIT, seconds)

    def _show_parts_pane(self, on: bool) -> None:
        self.parts_pane.setVisible(on)
        cfg.put(self.settings, cfg.SHOW_PARTS, on)

    def _set_limit(self, rate: int) -> None:
        self.engine.set_bandwidth_limit(rate)
        cfg.put(self.settings, cfg.BANDWIDTH_LIMIT, rate)
