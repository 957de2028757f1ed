"""The account view's two bulk actions, each previewed before it acts and
reporting per bucket or upload afterwards; both run on the TaskRunner and
open non-modally (tests drive them through their buttons)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.inventory.aborts import AbortResult, abort_uploads
from mpugui.core.inventory.lifecycle import describe_rule
from mpugui.core.inventory.listing import format_age, format_cost
from mpugui.core.orphans import bulk
from mpugui.core.orphans.results import ScannedUpload, bucket_regions
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.core.units import format_bytes, plural
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common.messages import user_error


def _days_box(value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 3650)
    box.setValue(value)
    box.setSuffix(" days")
    return box


class ProtectAllDialog(QDialog):
    """Merge "abort incomplete uploads after N days" into every listed
    bucket's lifecycle, keeping their other rules: a dry run first shows each
    bucket's rules before and after; Apply writes; the report says per
    bucket what was done or why not."""

    applied = Signal(object)  # list[bulk.ProtectResult] of the real run
    previewed = Signal(object)  # list[bulk.ProtectResult] of a dry run

    def __init__(self, runner: TaskRunner, clients: ClientFactory, endpoint: Endpoint,
                 buckets: list[tuple[str, str]], parent: QWidget | None = None,
                 days: int = 7) -> None:
        super().__init__(parent)
        self.setWindowTitle("Protect buckets from unfinished uploads")
        self.runner, self.clients, self.endpoint, self.buckets = runner, clients, endpoint, buckets
        self.days = _days_box(days)
        self.days.valueChanged.connect(self.preview)
        self.text = QPlainTextEdit(readOnly=True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.apply_button = QPushButton("Apply to all")
        self.apply_button.setEnabled(False)
        self.buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.ApplyRole)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(QLabel(f"Abort incomplete uploads in {plural(len(buckets), 'bucket')} after"))
        row.addWidget(self.days)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self.resize(760, 480)
        self._gen = 0
        self.results: list[bulk.ProtectResult] = []
        self.preview()

    def _run(self, dry_run: bool, done: Callable[[list[bulk.ProtectResult]], None]) -> None:
        self._gen += 1
        gen, days = self._gen, self.days.value()
        clients, endpoint, buckets = self.clients, self.endpoint, list(self.buckets)
        self.apply_button.setEnabled(False)
        self.runner.run(lambda: bulk.protect_all(clients, endpoint, buckets, days,
                                                 dry_run=dry_run),
                        lambda res: done(res) if gen == self._gen else None,
                        lambda exc: self.status.setText(user_error(exc)))

    def preview(self) -> None:
        self.status.setText("Reading each bucket's lifecycle rules…")
        self._run(True, self._previewed)

    def _previewed(self, results: list[bulk.ProtectResult]) -> None:
        lines, todo = [], 0
        for r in results:
            lines.append(r.sentence())
            if r.change is not None and r.change.changed:
                todo += 1
                lines += [f"    before: {describe_rule(x)}" for x in r.change.before] \
                    or ["    before: (no rules)"]
                lines += [f"    after:  {describe_rule(x)}" for x in r.change.after]
        self.text.setPlainText("\n".join(lines))
        failed = sum(1 for r in results if r.change is None)
        self.status.setText(f"{plural(todo, 'bucket')} would change, "
                            f"{len(results) - todo - failed} already do this, {failed} cannot "
                            "be changed. Every other rule is kept.")
        self.apply_button.setEnabled(todo > 0)
        self.apply_button.setText(f"Apply to {plural(todo, 'bucket')}")
        self.previewed.emit(results)

    def apply(self) -> None:
        self.status.setText("Writing the lifecycle rules…")
        self._run(False, self._applied)

    def _applied(self, results: list[bulk.ProtectResult]) -> None:
        self.results = results
        self.text.setPlainText("\n".join(r.sentence() for r in results))
        done = sum(1 for r in results if r.change is not None and r.change.applied)
        failed = sum(1 for r in results if r.change is None)
        self.status.setText(f"Done: {plural(done, 'bucket')} changed, {failed} failed.")
        self.applied.emit(results)


class BulkAbortDialog(QDialog):
    """Abort every scanned upload older than N days across the account: the
    preview (from the scan, exact) gives the count, bytes and cost; uploads
    this app's queue knows are named and their transfers cancelled."""

    finished_aborts = Signal(object)  # list[(ScannedUpload, AbortResult)]

    def __init__(self, runner: TaskRunner, clients: ClientFactory, endpoint: Endpoint,
                 rows: list[ScannedUpload], now: datetime, parent: QWidget | None = None,
                 days: int = 7, cancel_transfers: Callable[[list[int]], None] | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Abort old unfinished uploads")
        self.runner, self.clients, self.endpoint = runner, clients, endpoint
        self.rows, self.now, self._cancel_transfers = rows, now, cancel_transfers
        self.days = _days_box(days)
        self.days.valueChanged.connect(self.preview)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.text = QPlainTextEdit(readOnly=True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.abort_button = QPushButton("Abort")
        self.buttons.addButton(self.abort_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.abort_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(QLabel("Abort every upload in every bucket older than"))
        row.addWidget(self.days)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.summary)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.buttons)
        self.resize(760, 480)
        self.candidates: list[ScannedUpload] = []
        self.results: list[tuple[ScannedUpload, AbortResult]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = QTimer(self, interval=100)
        self._timer.timeout.connect(self._tick)
        self.asking = False  # the queue question is showing; the next click confirms
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.question.setStyleSheet("color: #cf222e; font-weight: bold")
        self.question.setVisible(False)
        lay.insertWidget(2, self.question)
        self.preview()

    def preview(self) -> None:
        """The dry run: exactly what would go, from the scan (nothing is sent)."""
        age = self.days.value() * 86400
        self.candidates = [r for r in self.rows if r.upload.age(self.now) >= age]
        size = sum(r.bytes or 0 for r in self.candidates)
        cost = sum(r.monthly_cost or 0.0 for r in self.candidates)
        buckets = len({r.upload.bucket for r in self.candidates})
        mine = [r for r in self.candidates if r.journal_id is not None]
        text = (f"{plural(len(self.candidates), 'upload')} in {plural(buckets, 'bucket')} holding "
                f"{format_bytes(size)}, about {format_cost(cost)} a month, would be "
                "aborted. Their parts are deleted; this cannot be undone.")
        if mine:
            text += (f" {len(mine)} of them are transfers in this app's queue ("
                     + ", ".join(f"#{r.journal_id}" for r in mine[:10])
                     + ("…" if len(mine) > 10 else "") + "): they will be cancelled.")
        self.summary.setText(text)
        self.text.setPlainText("\n".join(
            f"{format_age(r.upload.age(self.now)):>9}  "
            f"{format_bytes(r.bytes or 0):>10}  {r.upload.uri}"
            + (f"  (queue #{r.journal_id})" if r.journal_id is not None else "")
            for r in self.candidates))
        self.abort_button.setEnabled(bool(self.candidates))
        self.abort_button.setText(f"Abort {plural(len(self.candidates), 'upload')}")
        if getattr(self, "asking", False):  # the list changed: ask again
            self.asking = False
            self.question.setVisible(False)

    def start(self) -> None:
        """Abort the previewed uploads. When some are transfers of this app's
        queue (they cannot resume afterwards) the first click only asks, in
        the dialog itself; a second click confirms. (No QMessageBox child:
        deleting a box whose finished signal has a Python slot crashed
        PySide 6.12, and this dialog is deleted on close.)"""
        mine = [r for r in self.candidates if r.journal_id is not None]
        if mine and not self.asking:
            self.asking = True
            self.question.setText(f"{len(mine)} of these uploads are transfers in this app's "
                                  "queue: they will be cancelled and cannot resume. Click "
                                  "again to abort them too.")
            self.question.setVisible(True)
            self.abort_button.setText(f"Yes, abort {plural(len(self.candidates), 'upload')}")
            return
        self._go()

    def _go(self) -> None:
        todo = list(self.candidates)
        if not todo:
            return
        self.days.setEnabled(False)
        self.abort_button.setEnabled(False)
        self.progress.setRange(0, len(todo))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        clients, endpoint, stop = self.clients, self.endpoint, self._stop

        by_id = {row.upload.address: row for row in todo}

        def record(result: AbortResult) -> None:
            with self._lock:
                self.results.append((by_id[result.upload.address], result))

        def failed(exc: BaseException) -> None:
            self.summary.setText(user_error(exc))
            self._done()

        self.runner.run(lambda: abort_uploads(clients, endpoint, [row.upload for row in todo],
                                              regions=bucket_regions(todo), on_result=record,
                                              cancel=stop.is_set),
                        lambda _res: self._done(), failed)
        self._timer.start()

    def _tick(self) -> None:
        with self._lock:
            self.progress.setValue(len(self.results))

    def _done(self) -> None:
        self._timer.stop()
        with self._lock:
            results = list(self.results)
        self.progress.setValue(len(results))
        failed = [(row, r) for row, r in results if not r.ok]
        mine = [row.journal_id for row, r in results if r.ok and row.journal_id is not None]
        if mine and self._cancel_transfers is not None:
            self._cancel_transfers(mine)
        self.summary.setText(f"Aborted {len(results) - len(failed)} of "
                             f"{plural(len(results), 'upload')}"
                             + (f"; {len(failed)} failed." if failed else "."))
        self.text.setPlainText("\n".join(
            f"{'aborted' if r.ok else 'FAILED '}  {row.upload.uri}"
            + (f": {r.error}" if r.error else "") for row, r in results))
        self.finished_aborts.emit(results)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._stop.set()  # the upload being aborted finishes; the rest are left
        super().closeEvent(event)
