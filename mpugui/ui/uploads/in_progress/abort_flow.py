"""Aborting listed uploads from the In-progress tab, before and after: the
question (one non-modal box, reused), the words for what would go, and the
sentence that sums up a run of aborts, each failure also kept in the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.listing import PartInfo, Upload, usage
from mpugui.core.units import format_bytes, plural
from mpugui.ui.uploads.models import short_id

log = logging.getLogger("mpugui.ui.uploads")


class AbortQuestion(QObject):
    """"Abort 2 uploads holding 5 parts (25.0 MiB)?", answered later."""

    confirmed = Signal(object)  # list[Upload]: Abort was clicked

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._box: QMessageBox | None = None
        self._pending: list[Upload] = []
        self.open_box: QMessageBox | None = None  # while asking

    def ask(self, uploads: list[Upload], description: str) -> QMessageBox:
        box = self._box
        if box is None:
            # One box, reused: deleting a box whose finished signal has a
            # Python slot crashed PySide 6.12 (pure virtual call in ~QObject).
            box = QMessageBox(QMessageBox.Icon.Warning, "Abort uploads", "",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                              self._parent)
            box.setInformativeText("Their parts are deleted from the bucket and the storage "
                                   "stops being billed. This cannot be undone.")
            box.button(QMessageBox.StandardButton.Yes).setText("Abort")
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.finished.connect(self._answered)
            self._box = box
        box.setText(f"Abort {description}?")
        self._pending = uploads
        self.open_box = box
        box.open()
        return box

    def _answered(self, _result: int) -> None:
        box, uploads = self._box, self._pending
        self.open_box, self._pending = None, []
        if box is not None and box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
            self.confirmed.emit(uploads)


def describe_uploads(uploads: list[Upload],
                     cached_parts: Callable[[str], list[PartInfo] | None]) -> str:
    """'2 uploads holding 5 parts (25.0 MiB)', counting the parts known so far."""
    known = [p for p in map(cached_parts, (u.upload_id for u in uploads)) if p is not None]
    parts = sum(len(p) for p in known)
    size = sum(usage(p).bytes for p in known)
    text = (f"{plural(len(uploads), 'upload')} holding {plural(parts, 'part')} "
            f"({format_bytes(size)})")
    if len(known) < len(uploads):
        text += f"; the parts of {len(uploads) - len(known)} are still being counted"
    return text


def abort_summary(results: list[AbortResult]) -> tuple[str, bool]:
    """The sentence for a finished run, and whether any abort failed (each
    failure is logged, so the log dock keeps every one)."""
    failed = [r for r in results if not r.ok]
    text = f"Aborted {len(results) - len(failed):,} of {plural(len(results), 'upload')}."
    if failed:
        text += " Not aborted: " + "; ".join(f"{r.upload.key}: {r.error}" for r in failed)
        for r in failed:
            log.warning("Abort of %s (upload %s) failed: %s", r.upload.key,
                        short_id(r.upload.upload_id), r.error)
    return text, bool(failed)
