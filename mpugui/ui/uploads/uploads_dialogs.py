"""The uploads browser's dialogs, all non-modal with signals for their
outcome (so the window stays usable and tests can drive them):

- CleanupDialog: "older than N days": a dry-run preview of exactly what
  would go, then the aborts with progress and a summary.
- AdoptDialog: continue an upload with the local file: verify the uploaded
  parts (progress, mismatches part by part), then queue it in the engine.
- LifecycleDialog: the bucket's "abort incomplete uploads after N days" rule,
  merged into its lifecycle configuration, with the before and after.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.inventory.aborts import AbortResult
from mpugui.core.inventory.adopt import AdoptCheck, Progress, adoption_record, check_adoption
from mpugui.core.inventory.lifecycle import (
    LifecycleChange,
    describe_rule,
    merge_abort_rule,
    read_lifecycle,
    set_abort_incomplete,
)
from mpugui.core.inventory.listing import PartInfo, Upload, journal_index, older_than, usage
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import FINAL_STATES
from mpugui.core.units import format_bytes, plural
from mpugui.ui.common import icons
from mpugui.ui.common.messages import user_error
from mpugui.ui.common.screen_fit import size_to_screen
from mpugui.ui.uploads.uploads_models import format_age, local_time, short_id

if TYPE_CHECKING:
    from datetime import datetime

    from PySide6.QtCore import SignalInstance

    from mpugui.core.journal.store import Journal
    from mpugui.core.s3.endpoint import ClientFactory
    from mpugui.engine.engine import TransferEngine
    from mpugui.engine.tasks import TaskRunner
    from mpugui.ui.uploads.uploads_models import UploadsModel


class Browser(Protocol):
    """What these dialogs use of the uploads browser (ui/uploads/uploads_browser.py).
    The browser imports this module to open them; typing it by this, not by
    its class, keeps the two from importing each other."""

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


def _parent(browser: Browser) -> QWidget | None:
    return browser if isinstance(browser, QWidget) else None  # the browser: a QWidget

_ERROR_STYLE = "color: #b3261e;"
_OK_STYLE = "color: #1b6e20;"


def _say(label: QLabel, text: str, style: str = "") -> None:
    label.setText(text)
    label.setStyleSheet(style)


def _days_spin(minimum: int, changed: Callable[..., Any]) -> QSpinBox:
    """An age in days, 7 to start with."""
    days = QSpinBox()
    days.setRange(minimum, 3650)
    days.setValue(7)
    days.setSuffix(" days")
    days.valueChanged.connect(changed)
    return days


def _close_and(dialog: QDialog, action: QPushButton,
               role: QDialogButtonBox.ButtonRole) -> QDialogButtonBox:
    """Close, and the dialog's one action button."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.addButton(action, role)
    buttons.rejected.connect(dialog.close)
    return buttons


class CleanupDialog(QDialog):
    previewed = Signal(object)  # list[inventory.Upload] that would be aborted
    aborted = Signal(object)  # list[inventory.AbortResult]

    def __init__(self, browser: Browser) -> None:
        super().__init__(_parent(browser))
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

        self.days = _days_spin(0, self.preview)
        where = QLabel(f"Uploads listed in <b>s3://{bucket}/{prefix}</b> that were started "
                       "more than")
        top = QHBoxLayout()
        top.addWidget(where)
        top.addWidget(self.days)
        top.addWidget(QLabel("ago:"))
        top.addStretch(1)

        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setHeaderLabels(["Key", "Upload ID", "Initiated", "Age", "Parts", "Bytes",
                                    "Result"])
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.abort_button = QPushButton(icons.icon("cancel"), "Abort these uploads")
        self.abort_button.clicked.connect(self.start)
        buttons = _close_and(self, self.abort_button, QDialogButtonBox.ButtonRole.ActionRole)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(buttons)
        browser.usage_loaded.connect(self._usage_changed)
        browser.listing_finished.connect(self.preview)
        self.preview()

    def preview(self, *_: Any) -> None:
        """The dry run: exactly the uploads an abort would remove now."""
        if self._started:
            return  # the preview is frozen once aborting starts
        if self.browser.listing:
            _say(self.summary, "The list is still loading; the preview follows when it is "
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
            _say(self.summary, f"Dry run: {self.browser.describe_uploads(self.candidates)} "
                               f"would be aborted. Nothing has been aborted yet.")
            noun = "upload" if len(self.candidates) == 1 else "uploads"
            self.abort_button.setText(f"Abort {len(self.candidates)} {noun}")
        else:
            _say(self.summary, f"No listed upload is older than {self.days.value()} days.")
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
            _say(self.summary, f"Aborting: {len(self.results)} of {len(self.candidates)} …")

        def done(results: list[AbortResult]) -> None:
            failed = [r for r in results if not r.ok]
            text = f"Aborted {len(results) - len(failed):,} of {plural(len(results), 'upload')}."
            if failed:
                text += " Failed: " + " ".join(f"{r.upload.key}: {r.error}" for r in failed)
            _say(self.summary, text, _ERROR_STYLE if failed else _OK_STYLE)
            self.aborted.emit(results)

        self.browser.run_aborts(list(self.candidates), one, done)


class AdoptDialog(QDialog):
    verified = Signal(object)  # inventory.AdoptCheck
    failed = Signal(str)  # a sentence: the file cannot continue this upload
    queued = Signal(int)  # the engine's transfer id

    def __init__(self, browser: Browser, upload: Upload, endpoint: Endpoint) -> None:
        super().__init__(_parent(browser))
        self.setWindowTitle("Resume an upload with a local file")
        self.setModal(False)
        size_to_screen(self, QSize(680, 420), QSize(0, 0))
        self.browser, self.upload, self.endpoint = browser, upload, endpoint
        self.check: AdoptCheck | None = None
        self.progress_state = Progress()
        self._task: int | None = None

        about = QLabel(f"<b>{_html(upload.uri)}</b><br>upload {_html(upload.upload_id)}, "
                       f"started {local_time(upload.initiated)}")
        about.setWordWrap(True)
        about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path = QLineEdit()
        self.path.setPlaceholderText("the file this upload was started with")
        self.path.textChanged.connect(self._path_changed)
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.choose_file)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(choose)
        self.verify_button = QPushButton("Verify parts")
        self.verify_button.clicked.connect(self.verify)
        file_row.addWidget(self.verify_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("%p% verified")
        self.status = QLabel("Choose the local file. Each uploaded part is compared with the "
                             "file's bytes at its position before anything is sent.")
        self.status.setWordWrap(True)
        self.details = QListWidget()
        self.queue_button = QPushButton(icons.icon("resume"), "Upload missing parts and complete")
        self.queue_button.setEnabled(False)
        self.queue_button.clicked.connect(self.queue)
        buttons = _close_and(self, self.queue_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addLayout(file_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-adopt-progress")
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._show_progress)
        self._path_changed(self.path.text())

    def choose_file(self) -> QFileDialog:
        chooser = QFileDialog(self, "Choose the local file", os.path.dirname(self.path.text()))
        chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        chooser.fileSelected.connect(self.set_file)
        chooser.open()
        return chooser

    def set_file(self, path: str) -> None:
        self.path.setText(path)

    def _path_changed(self, text: str) -> None:
        self.verify_button.setEnabled(bool(text.strip()) and self._task is None)
        self.check = None
        self.queue_button.setEnabled(False)

    def verify(self) -> None:
        path = self.path.text().strip()
        if not path or self._task is not None:
            return
        self.check = None
        self.details.clear()
        self.queue_button.setEnabled(False)
        self.verify_button.setEnabled(False)
        self.progress_state = progress = Progress()
        self.progress.setValue(0)
        self.progress.setFormat("%p% verified")
        _say(self.status, "Listing the parts and reading the file …")
        clients, endpoint, upload = self.browser.clients, self.endpoint, self.upload
        self._task = self.browser.runner.run(
            lambda: check_adoption(clients.client(endpoint), upload, path,
                                       progress=progress),
            self._verified, self._failed)
        self._timer.start()

    def _show_progress(self) -> None:
        p = self.progress_state
        if p.total:
            self.progress.setValue(int(p.done / p.total * 1000))

    def _stopped(self) -> None:
        self._task = None
        self._timer.stop()
        self.verify_button.setEnabled(bool(self.path.text().strip()))

    def _verified(self, check: AdoptCheck) -> None:
        self._stopped()
        self.progress.setValue(1000)
        self.progress.setFormat("All parts match" if check.ok else "Mismatch found")
        self.check = check
        for m in check.mismatches:
            self.details.addItem(m.reason)
        if check.ok:
            for n in check.verified:
                self.details.addItem(f"Part {n}: matches the file.")
            for n in check.unverifiable:
                self.details.addItem(f"Part {n}: the server lists no MD5 or checksum for it; "
                                     "it will be sent again.")
            _say(self.status, check.summary(), _OK_STYLE)
            self.queue_button.setEnabled(True)
        else:
            _say(self.status, check.summary(), _ERROR_STYLE)
        self.verified.emit(check)

    def _failed(self, exc: BaseException) -> None:
        self._stopped()
        self.progress.setValue(0)
        self.progress.setFormat("Not verified")
        sentence = user_error(exc)
        _say(self.status, sentence, _ERROR_STYLE)
        self.failed.emit(sentence)

    def queue(self) -> int | None:
        """Journal the transfer with this upload id and hand it to the engine:
        its reconcile keeps the matching parts and sends only the rest."""
        check = self.check
        if check is None or not check.ok:
            return None
        journal, engine = self.browser.journal, self.browser.engine
        try:
            known = journal_index(journal).get(self.upload.upload_id)
            if known is not None and known.state not in FINAL_STATES:
                transfer_id = known.id
            else:
                transfer_id = journal.add(adoption_record(check, self.endpoint))
            engine.restore([transfer_id])
            engine.resume([transfer_id])
        except Exception as exc:
            sentence = user_error(exc)
            _say(self.status, sentence, _ERROR_STYLE)
            self.failed.emit(sentence)
            return None
        self.queue_button.setEnabled(False)
        _say(self.status, f"Queued as transfer {transfer_id}: {plural(len(check.missing), 'part')} "
                          "to send, then complete. Follow it in the transfer list.", _OK_STYLE)
        self.browser.mark_adopted(self.upload.upload_id, transfer_id)
        self.queued.emit(transfer_id)
        return transfer_id

    def closeEvent(self, event: Any) -> None:
        self.progress_state.cancel.set()  # a running verification stops at its next chunk
        if self._task is not None:
            self.browser.runner.forget(self._task)
        self._timer.stop()
        super().closeEvent(event)


class LifecycleDialog(QDialog):
    loaded = Signal(object)  # the rules before
    applied = Signal(object)  # inventory.LifecycleChange
    failed = Signal(str)

    def __init__(self, browser: Browser, endpoint: Endpoint, bucket: str,
                 prefix: str = "") -> None:
        super().__init__(_parent(browser))
        self.setWindowTitle(f"Lifecycle rule of {bucket}")
        self.setModal(False)
        size_to_screen(self, QSize(640, 460), QSize(0, 0))
        self.browser, self.endpoint, self.bucket = browser, endpoint, bucket
        self.before: list[dict[str, Any]] | None = None
        self.change: LifecycleChange | None = None
        self._prefix = prefix

        self.days = _days_spin(1, self._preview)
        self.only_prefix = QCheckBox(f"Only keys under '{prefix}'")
        self.only_prefix.setVisible(bool(prefix))
        self.only_prefix.toggled.connect(self._preview)
        form = QHBoxLayout()
        form.addWidget(QLabel("Abort incomplete uploads after"))
        form.addWidget(self.days)
        form.addWidget(self.only_prefix)
        form.addStretch(1)
        note = QLabel("This rule is added to the bucket's lifecycle rules (a bucket keeps "
                      "them all in one configuration): every other rule is kept, and an "
                      "existing abort rule is updated rather than duplicated.")
        note.setWordWrap(True)
        self.before_text = QPlainTextEdit()
        self.before_text.setReadOnly(True)
        self.after_text = QPlainTextEdit()
        self.after_text.setReadOnly(True)
        self.status = QLabel("Reading the bucket's lifecycle rules …")
        self.status.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        buttons = _close_and(self, self.apply_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(QLabel("Before:"))
        layout.addWidget(self.before_text, 1)
        layout.addWidget(QLabel("After:"))
        layout.addWidget(self.after_text, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.reload()

    def prefix(self) -> str:
        return self._prefix if self.only_prefix.isChecked() else ""

    def reload(self) -> None:
        clients, endpoint, bucket = self.browser.clients, self.endpoint, self.bucket
        self.browser.runner.run(lambda: read_lifecycle(clients.client(endpoint), bucket),
                                self._loaded, self._failed)

    def _loaded(self, result: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
        self.before = result[0]
        self._preview()
        self.loaded.emit(self.before)

    def _failed(self, exc: BaseException) -> None:
        sentence = user_error(exc)
        _say(self.status, sentence, _ERROR_STYLE)
        self.apply_button.setEnabled(self.before is not None)
        self.failed.emit(sentence)

    def _preview(self, *_: Any) -> None:
        if self.before is None:
            return
        after = merge_abort_rule(self.before, self.days.value(), self.prefix())
        self.before_text.setPlainText(_rules_text(self.before))
        self.after_text.setPlainText(_rules_text(after))
        changed = after != self.before
        _say(self.status, "Apply writes the rules shown under After." if changed else
             "Nothing to change: the bucket already has this rule.")
        self.apply_button.setEnabled(changed)

    def apply(self) -> None:
        clients, endpoint, bucket = self.browser.clients, self.endpoint, self.bucket
        days, prefix = self.days.value(), self.prefix()
        self.apply_button.setEnabled(False)
        _say(self.status, "Applying …")
        # Read-merge-write again in the task: a rule added meanwhile is kept.
        self.browser.runner.run(
            lambda: set_abort_incomplete(clients.client(endpoint), bucket, days, prefix),
            self._applied, self._failed)

    def _applied(self, change: LifecycleChange) -> None:
        self.change = change
        self.before = change.after
        self.before_text.setPlainText(_rules_text(change.before))
        self.after_text.setPlainText(_rules_text(change.after))
        _say(self.status, f"Applied: incomplete uploads are aborted {change.days} days after "
                          "they start." if change.applied else
             "Nothing to change: the bucket already has this rule.", _OK_STYLE)
        self.applied.emit(change)


def _rules_text(rules: list[dict[str, Any]]) -> str:
    rules_text = "\n".join(describe_rule(r) for r in rules)
    return rules_text or "(none yet: the bucket has no lifecycle rules)"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["AdoptDialog", "CleanupDialog", "LifecycleDialog"]
