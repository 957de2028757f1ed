"""The window's actions (toolbar, menus, context menu, shortcuts) and the rule
that enables them from the selected transfers' states."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QWidget

from mpugui.core.states import (
    ASSEMBLING,
    CANCELLED,
    DONE,
    FAILED,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    WAITING,
)
from mpugui.ui.common import icons

PAUSABLE = frozenset({QUEUED, UPLOADING, WAITING})
RESUMABLE = frozenset({PAUSED})
RETRYABLE = frozenset({FAILED, CANCELLED, WAITING})  # waiting: "Retry now" probes at once
CANCELLABLE = frozenset({QUEUED, UPLOADING, PAUSED, FAILED, ASSEMBLING, VERIFYING, WAITING})
REMOVABLE = frozenset({DONE, CANCELLED, PAUSED, FAILED})


@dataclass(frozen=True)
class Spec:
    name: str
    text: str
    icon: str
    shortcuts: tuple[str | QKeySequence.StandardKey, ...] = ()
    tip: str = ""


SPECS = (
    Spec("add_files", "Add &files…", "add-file", (QKeySequence.StandardKey.Open,),
         "Choose files to upload"),
    Spec("add_folder", "Add f&older…", "add-folder", ("Ctrl+Shift+O",),
         "Choose a folder to upload with everything in it"),
    Spec("pause", "&Pause", "pause", ("Ctrl+P",), "Pause the selected transfers"),
    Spec("resume", "&Resume", "resume", ("Ctrl+R",),
         "Resume the selected transfers from their finished parts"),
    Spec("cancel", "&Cancel…", "cancel", ("Shift+Del",),
         "Stop the selected transfers and delete their uploaded parts from the bucket"),
    Spec("retry", "Re&try", "retry", ("F5",),
         "Try failed or cancelled transfers again; for ones waiting for the network, "
         "try to reach it now"),
    Spec("remove", "Re&move from list", "remove", (QKeySequence.StandardKey.Delete,),
         "Remove the selected transfers from the list"),
    Spec("remove_finished", "Remove &finished", "remove-finished", ("Ctrl+Shift+Del",),
         "Remove every finished or cancelled transfer from the list"),
    Spec("pause_all", "P&ause all", "pause-all", ("Ctrl+Shift+P",), "Pause every transfer"),
    Spec("resume_all", "Res&ume all", "resume-all", ("Ctrl+Shift+R",),
         "Resume every paused transfer"),
    Spec("copy_uri", "&Copy S3 URI", "copy", (QKeySequence.StandardKey.Copy, "Ctrl+Shift+C"),
         "Copy the s3:// address of the selected transfers"),
    Spec("accounts", "&Accounts…", "accounts", ("Ctrl+Shift+A",),
         "Add, edit or remove accounts and test connections"),
    Spec("show_log", "&Log", "log", ("Ctrl+L",), "Show or hide the log"),
    Spec("show_uploads", "&In-progress uploads", "uploads", ("Ctrl+U",),
         "Browse a bucket's unfinished multipart uploads"),
    Spec("show_parts", "&Parts pane", "uploading", ("Ctrl+Shift+G",),
         "Show or hide the selected transfer's parts below the queue"),
    Spec("find", "&Filter…", "filter", (QKeySequence.StandardKey.Find,),
         "Filter the queue by name or destination"),
    Spec("auto_resume", "&Resume unfinished uploads at start", "resume", (),
         "Otherwise unfinished uploads come back paused"),
    Spec("notify", "&Notify when uploads finish", "about", (),
         "Notify on completion and failure"),
    Spec("about", "&About mpugui", "about", ()),
    Spec("quit", "&Quit", "quit", (QKeySequence.StandardKey.Quit,)),
)

TOGGLES = ("auto_resume", "notify", "show_log", "show_parts")
SELECTION_ACTIONS = ("pause", "resume", "cancel", "retry", "remove", "copy_uri")


class Actions:
    def __init__(self, parent: QWidget) -> None:
        self.by_name: dict[str, QAction] = {}
        for spec in SPECS:
            act = QAction(icons.icon(spec.icon), spec.text, parent)
            act.setObjectName(f"action_{spec.name}")
            if spec.shortcuts:
                act.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
            tip = spec.tip or spec.text.replace("&", "").rstrip("…")
            keys = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            act.setToolTip(f"{tip} ({keys})" if keys else tip)
            act.setStatusTip(tip)
            if spec.name == "remove":
                act.setIconText("Remove")  # the toolbar label; menus say "from list"
            self.by_name[spec.name] = act
            setattr(self, spec.name, act)
        for name in TOGGLES:
            # No icon: menus then draw a check mark, not only a frame round the icon.
            self.by_name[name].setCheckable(True)
            self.by_name[name].setIcon(QIcon())

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def update_for(self, states: set[str], any_paused: bool, any_running: bool) -> None:
        enabled = enabled_for(states)
        for name in SELECTION_ACTIONS:
            self.by_name[name].setEnabled(enabled[name])
        self.by_name["pause_all"].setEnabled(any_running)
        self.by_name["resume_all"].setEnabled(any_paused)

    def refresh_icons(self) -> None:
        """Re-tint after a palette change (light <-> dark)."""
        for spec in SPECS:
            if spec.name not in TOGGLES:
                self.by_name[spec.name].setIcon(icons.icon(spec.icon))


def enabled_for(states: set[str]) -> dict[str, bool]:
    """Which selection actions apply to a selection with these states."""
    return {
        "pause": bool(states & PAUSABLE),
        "resume": bool(states & RESUMABLE),
        "cancel": bool(states & CANCELLABLE),
        "retry": bool(states & RETRYABLE),
        "remove": bool(states & REMOVABLE),
        "copy_uri": bool(states),
    }
