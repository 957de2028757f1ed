"""What the In-progress tab's dialogs share: the Browser they work on (typed
by a protocol, so the tab and its dialogs do not import each other) and the
small form pieces they are built from."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QSpinBox, QWidget

from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.listing import PartInfo, Upload
from mpugui.core.s3.endpoint import Endpoint

if TYPE_CHECKING:
    from datetime import datetime

    from PySide6.QtCore import SignalInstance

    from mpugui.core.journal.store import Journal
    from mpugui.core.s3.endpoint import ClientFactory
    from mpugui.engine.engine import TransferEngine
    from mpugui.engine.tasks import TaskRunner
    from mpugui.ui.uploads.models import UploadsModel

ERROR_STYLE = "color: #b3261e;"
OK_STYLE = "color: #1b6e20;"


class Browser(Protocol):
    """What the dialogs use of the In-progress tab (ui/uploads/in_progress_tab.py).
    The tab imports the dialogs to open them; typing it by this, not by its
    class, keeps the two from importing each other."""

    clients: ClientFactory
    runner: TaskRunner
    journal: Journal
    engine: TransferEngine
    model: UploadsModel
    now: Callable[[], datetime]
    usage_loaded: SignalInstance
    listing_finished: SignalInstance

    @property
    def listing(self) -> bool: ...
    def location(self) -> tuple[Endpoint, str, str] | None: ...
    def cached_parts(self, upload_id: str) -> list[PartInfo] | None: ...
    def describe_uploads(self, uploads: list[Upload]) -> str: ...
    def run_aborts(self, uploads: list[Upload],
                   on_result: Callable[[AbortResult], None] | None = None,
                   on_done: Callable[[list[AbortResult]], None] | None = None) -> None: ...
    def mark_adopted(self, upload_id: str, transfer_id: int) -> None: ...


def parent_of(browser: Browser) -> QWidget | None:
    """The dialog's parent: the tab, which is a QWidget."""
    return browser if isinstance(browser, QWidget) else None


def say(label: QLabel, text: str, style: str = "") -> None:
    label.setText(text)
    label.setStyleSheet(style)


def days_spin(minimum: int, changed: Callable[..., Any]) -> QSpinBox:
    """An age in days, 7 to start with."""
    days = QSpinBox()
    days.setRange(minimum, 3650)
    days.setValue(7)
    days.setSuffix(" days")
    days.valueChanged.connect(changed)
    return days


def close_and(dialog: QDialog, action: QPushButton,
              role: QDialogButtonBox.ButtonRole) -> QDialogButtonBox:
    """Close, and the dialog's one action button."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.addButton(action, role)
    buttons.rejected.connect(dialog.close)
    return buttons
