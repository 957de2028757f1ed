"""Test connection: an optional bucket, the button, and the results. The
pre-flight (credentials, the bucket, listing and aborting in-progress
uploads; nothing written) runs on the TaskRunner's pool; its checks come
back as one row each, and the summary sentence as a signal."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from mpugui.core.errors import describe
from mpugui.core.preflight import Check, make_test_client, preflight
from mpugui.core.s3.endpoint import Endpoint
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.accounts.check_list import CheckList, test_summary
from mpugui.ui.common.icons import icon


class ConnectionTest(QGroupBox):
    requested = Signal()  # Test connection was clicked: the dialog reads its form
    finished = Signal(str)  # the summary sentence of the checks shown

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Test connection", parent)
        self.runner = runner
        self._task: int | None = None
        self.bucket_edit = QLineEdit()
        self.bucket_edit.setPlaceholderText("optional — tests reachability and permissions")
        self.button = QPushButton(icon("retry"), "&Test connection")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.requested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(90)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.checks = CheckList()
        self.hint = QLabel("Checks that the credentials work, the bucket answers, and that "
                           "in-progress uploads may be listed (to resume) and aborted (to "
                           "cancel). Nothing is written to the bucket.")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.addLayout(self._bucket_row())
        layout.addWidget(self.hint)
        layout.addWidget(line)
        layout.addWidget(self._results(), 1)

    def _bucket_row(self) -> QHBoxLayout:
        label = QLabel("B&ucket to test:")
        label.setBuddy(self.bucket_edit)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.bucket_edit, 1)
        row.addWidget(self.progress)
        row.addWidget(self.button)
        return row

    def _results(self) -> QScrollArea:
        """The checks, scrolling, so a small window squeezes them, not the form."""
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        holder_layout.addWidget(self.checks)
        holder_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(holder)
        # setWidget() turns background filling on; the results sit on the
        # group box's own background like the rest of the form.
        holder.setAutoFillBackground(False)
        scroll.viewport().setAutoFillBackground(False)
        scroll.setMinimumHeight(60)
        return scroll

    def start(self, endpoint: Endpoint, secret: str | None) -> None:
        """Test `endpoint` (with `secret` for an access key), replacing a
        test still running."""
        bucket = self.bucket_edit.text().strip() or None

        def work() -> list[Check]:  # on the runner's pool
            return preflight(make_test_client(endpoint, secret), bucket)

        self.stop()
        self.button.setEnabled(False)
        self.progress.show()
        self.checks.set_checks([])
        self._task = self.runner.run(work, self._tested, self._failed)

    def refuse(self, sentence: str) -> None:
        """The form cannot be tested: say why where the results go."""
        self.checks.set_checks([Check("Account", False, sentence)])

    def stop(self) -> None:
        """Forget a running test: its answer would come too late."""
        if self._task is not None:
            self.runner.forget(self._task)
            self._task = None
        self.button.setEnabled(True)
        self.progress.hide()

    def _tested(self, checks: list[Check]) -> None:
        if not shiboken6.isValid(self):
            return
        self._task = None
        self.button.setEnabled(True)
        self.progress.hide()
        self.checks.set_checks(checks)
        self.finished.emit(test_summary(checks))

    def _failed(self, exc: BaseException) -> None:
        self._tested([Check("Connection", False, describe(exc))])
