"""Continue an in-progress upload with the local file: verify the uploaded
parts against the file's bytes (off the GUI thread, with progress and the
mismatches part by part), then journal the transfer and queue it in the
engine, which sends only the missing parts and completes it."""

from __future__ import annotations

import os
from html import escape
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from mpugui.core.inventory.adopt import AdoptCheck, Progress, adoption_record, check_adoption
from mpugui.core.inventory.listing import Upload, journal_index
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import FINAL_STATES
from mpugui.core.units import plural
from mpugui.ui.common import icons
from mpugui.ui.common.messages import user_error
from mpugui.ui.common.screen_fit import size_to_screen
from mpugui.ui.uploads.in_progress.dialogs.common import (
    ERROR_STYLE,
    OK_STYLE,
    Browser,
    close_and,
    parent_of,
    say,
)
from mpugui.ui.uploads.models import local_time


class AdoptDialog(QDialog):
    verified = Signal(object)  # inventory.AdoptCheck
    failed = Signal(str)  # a sentence: the file cannot continue this upload
    queued = Signal(int)  # the engine's transfer id

    def __init__(self, browser: Browser, upload: Upload, endpoint: Endpoint) -> None:
        super().__init__(parent_of(browser))
        self.setWindowTitle("Resume an upload with a local file")
        self.setModal(False)
        size_to_screen(self, QSize(680, 420), QSize(0, 0))
        self.browser, self.upload, self.endpoint = browser, upload, endpoint
        self.check: AdoptCheck | None = None
        self.progress_state = Progress()
        self._task: int | None = None

        uri, upload_id = escape(upload.uri, quote=False), escape(upload.upload_id, quote=False)
        about = QLabel(f"<b>{uri}</b><br>upload {upload_id}, "
                       f"started {local_time(upload.initiated)}")
        about.setWordWrap(True)
        about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        buttons = close_and(self, self.queue_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addLayout(self._file_row())
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-adopt-progress")
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._show_progress)
        self._path_changed(self.path.text())

    def _file_row(self) -> QHBoxLayout:
        """The local file's path, Choose… and Verify parts."""
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
        return file_row

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
        say(self.status, "Listing the parts and reading the file …")
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
            say(self.status, check.summary(), OK_STYLE)
            self.queue_button.setEnabled(True)
        else:
            say(self.status, check.summary(), ERROR_STYLE)
        self.verified.emit(check)

    def _failed(self, exc: BaseException) -> None:
        self._stopped()
        self.progress.setValue(0)
        self.progress.setFormat("Not verified")
        sentence = user_error(exc)
        say(self.status, sentence, ERROR_STYLE)
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
            say(self.status, sentence, ERROR_STYLE)
            self.failed.emit(sentence)
            return None
        self.queue_button.setEnabled(False)
        say(self.status, f"Queued as transfer {transfer_id}: {plural(len(check.missing), 'part')} "
                         "to send, then complete. Follow it in the transfer list.", OK_STYLE)
        self.browser.mark_adopted(self.upload.upload_id, transfer_id)
        self.queued.emit(transfer_id)
        return transfer_id

    def closeEvent(self, event: Any) -> None:
        self.progress_state.cancel.set()  # a running verification stops at its next chunk
        if self._task is not None:
            self.browser.runner.forget(self._task)
        self._timer.stop()
        super().closeEvent(event)
