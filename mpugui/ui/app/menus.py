"""Which of the window's actions go where: the toolbar (with the queue's
filter box), the menu bar and the queue's context menu. The actions
themselves, their texts and shortcuts, are in actions.py."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLineEdit, QMenu, QMenuBar, QSizePolicy, QWidget

from mpugui.ui.app.actions import Actions
from mpugui.ui.app.preferences import Preferences
from mpugui.ui.common import icons
from mpugui.ui.common.fitting_toolbar import FittingToolBar


def build_toolbar(acts: Actions) -> tuple[FittingToolBar, QLineEdit]:
    """The main toolbar and the filter box on it."""
    a = acts
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
    filter_edit = QLineEdit()
    filter_edit.setObjectName("queueFilter")
    filter_edit.setPlaceholderText("Filter by name or destination")
    filter_edit.setClearButtonEnabled(True)
    filter_edit.addAction(icons.icon("filter"), QLineEdit.ActionPosition.LeadingPosition)
    filter_edit.setMinimumWidth(150)
    filter_edit.setMaximumWidth(260)
    filter_edit.setAccessibleName("Filter the queue")
    bar.addWidget(filter_edit)
    bar.addAction(a["accounts"])
    bar.keep_labels(a["add_files"], a["add_folder"])
    return bar, filter_edit


def build_menus(menus: QMenuBar, acts: Actions, log_toggle: QAction,
                prefs: Preferences) -> QAction:
    """File, Transfers, View, Settings and Help; returns Settings ▸ Storage
    prices (the window opens the dialog). `log_toggle` (the log dock's own
    action) becomes acts["show_log"]."""
    a = acts
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
    log_toggle.setShortcut(QKeySequence("Ctrl+L"))
    view.addAction(log_toggle)
    acts.by_name["show_log"] = log_toggle
    settings_menu = menus.addMenu("&Settings")
    settings_menu.addAction(a["auto_resume"])
    settings_menu.addAction(a["notify"])
    prefs.max_wait_menu(settings_menu.addMenu("When the network is &down"))
    settings_menu.addSeparator()
    prices = settings_menu.addAction("Storage &prices…")
    help_menu = menus.addMenu("&Help")
    help_menu.addAction(a["about"])
    return prices


def queue_menu(acts: Actions, parent: QWidget) -> QMenu:
    """The queue's context menu (deletes itself once closed)."""
    a = acts
    menu = QMenu(parent)
    for act in (a["pause"], a["resume"], a["cancel"], a["retry"], None, a["remove"], None,
                a["copy_uri"], None, a["add_files"], a["add_folder"]):
        menu.addSeparator() if act is None else menu.addAction(act)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return menu
