"""Clean up old in-progress uploads: "older than N days" as a dry-run
preview of exactly what would go (it follows the listing and the parts as
they arrive), then the aborts of exactly those, with progress and a summary."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.listing import Upload, older_than, usage
from mpugui.core.units import format_bytes, plural
from mpugui.ui.common import icons
from mpugui.ui.common.screen_fit import size_to_screen
from mpugui.ui.uploads.in_progress.dialogs.common import (
    ERROR_STYLE,
    OK_STYLE,
    Browser,
    close_and,
    days_spin,
    parent_of,
    say,
)
from mpugui.ui.uploads.models import format_age, local_time, short_id


class CleanupDialog(QDialog):
    previewed = Signal(object)  # list[inventory.Upload] that would be aborted
    aborted = Signal(object)  # list[inventory.AbortResult]

    def __init__(self, browser: Browser) -> None:
        super().__init__(parent_of(browser))
        self.setWindowTitle("Clean up old in-progress uploads")
        self.setModal(False)
        size_to_screen(self, QSize(760, 440), QSize(0, 0))
        self.browser = browser
        self.candidates: list[Upload] = []
        self.results: list[AbortResult] = []
        self._started = False
        location = browser.location()
        assert location is not None
        _, bucket, prefix = location

        self.days = days_spin(0, self.preview)
        self.table = _candidates_table()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.abort_button = QPushButton(icons.icon("cancel"), "Abort these uploads")
        self.abort_button.clicked.connect(self.start)
        buttons = close_and(self, self.abort_button, QDialogButtonBox.ButtonRole.ActionRole)

        layout = QVBoxLayout(self)
        layout.addLayout(self._age_row(bucket, prefix))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(buttons)
        browser.usage_loaded.connect(self._usage_changed)
        browser.listing_finished.connect(self.preview)
        self.preview()

    def _age_row(self, bucket: str, prefix: str) -> QHBoxLayout:
        """Where, and the age in days."""
        where = QLabel(f"Uploads listed in <b>s3://{bucket}/{prefix}</b> that were started "
                       "more than")
        top = QHBoxLayout()
        top.addWidget(where)
        top.addWidget(self.days)
        top.addWidget(QLabel("ago:"))
        top.addStretch(1)
        return top

    def preview(self, *_: Any) -> None:
        """The dry run: exactly the uploads an abort would remove now."""
        if self._started:
            return  # the preview is frozen once aborting starts
        if self.browser.listing:
            say(self.summary, "The list is still loading; the preview follows when it is "
                              "complete.")
            self.abort_button.setEnabled(False)
            return
        rows = self.browser.model.rows()
        age = self.days.value() * 86400
        now = self.browser.now()
        self.candidates = older_than([r.upload for r in rows], age, now)
        self.table.clear()
        for u in self.candidates:
            parts = self.browser.cached_parts(u.upload_id)
            use = usage(parts) if parts is not None else None
            item = QTreeWidgetItem([u.key, short_id(u.upload_id), local_time(u.initiated),
                                    format_age(u.age(now)), f"{use.parts:,}" if use else "…",
                                    format_bytes(use.bytes) if use else "…", "would go"])
            item.setToolTip(1, u.upload_id)
            for col in (3, 4, 5):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            self.table.addTopLevelItem(item)
        if self.candidates:
            say(self.summary, f"Dry run: {self.browser.describe_uploads(self.candidates)} "
                              f"would be aborted. Nothing has been aborted yet.")
            noun = "upload" if len(self.candidates) == 1 else "uploads"
            self.abort_button.setText(f"Abort {len(self.candidates)} {noun}")
        else:
            say(self.summary, f"No listed upload is older than {self.days.value()} days.")
            self.abort_button.setText("Abort these uploads")
        self.abort_button.setEnabled(bool(self.candidates))
        self.previewed.emit(list(self.candidates))

    def _usage_changed(self, upload_id: str) -> None:
        if any(u.upload_id == upload_id for u in self.candidates):
            self.preview()

    def start(self) -> None:
        """Abort exactly the previewed uploads, with progress."""
        if not self.candidates or self._started:
            return
        self._started = True
        self.abort_button.setEnabled(False)
        self.days.setEnabled(False)
        self.progress.setRange(0, len(self.candidates))
        self.progress.setValue(0)
        self.progress.show()
        rows = {u.upload_id: i for i, u in enumerate(self.candidates)}

        def one(result: AbortResult) -> None:
            self.results.append(result)
            self.progress.setValue(len(self.results))
            item = self.table.topLevelItem(rows[result.upload.upload_id])
            if item is not None:
                item.setText(6, "aborted" if result.ok else "failed")
                if result.error:
                    item.setToolTip(6, result.error)
            say(self.summary, f"Aborting: {len(self.results)} of {len(self.candidates)} …")

        def done(results: list[AbortResult]) -> None:
            failed = [r for r in results if not r.ok]
            text = f"Aborted {len(results) - len(failed):,} of {plural(len(results), 'upload')}."
            if failed:
                text += " Failed: " + " ".join(f"{r.upload.key}: {r.error}" for r in failed)
            say(self.summary, text, ERROR_STYLE if failed else OK_STYLE)
            self.aborted.emit(results)

        self.browser.run_aborts(list(self.candidates), one, done)


def _candidates_table() -> QTreeWidget:
    """The uploads that would go, one row each, and what became of them."""
    table = QTreeWidget()
    table.setRootIsDecorated(False)
    table.setAlternatingRowColors(True)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setHeaderLabels(["Key", "Upload ID", "Initiated", "Age", "Parts", "Bytes", "Result"])
    header = table.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table
