"""The All buckets tab's top row: the account, Scan account (Stop while a
scan runs) with its progress in buckets, and the bulk actions (Protect all…,
Abort old uploads…), enabled once a scan has buckets to act on."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class ScanToolbar(QWidget):
    scan_clicked = Signal()  # Scan account, or Stop
    protect_clicked = Signal()
    abort_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.account = QComboBox()
        self.account.setMinimumContentsLength(16)
        self.scan_button = QPushButton("Scan account")
        self.scan_button.setToolTip("List every bucket's unfinished uploads, each bucket in "
                                    "its own region")
        self.scan_button.clicked.connect(self.scan_clicked)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("%v of %m buckets")
        self.progress.setVisible(False)
        self.protect_button = QPushButton("Protect all…")
        self.protect_button.setToolTip("Add a lifecycle rule that aborts incomplete uploads "
                                       "to the selected buckets (all when none is selected)")
        self.protect_button.clicked.connect(self.protect_clicked)
        self.abort_button = QPushButton("Abort old uploads…")
        self.abort_button.setToolTip("Abort every upload older than N days, across the "
                                     "account, after a preview")
        self.abort_button.clicked.connect(self.abort_clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Account"))
        row.addWidget(self.account)
        row.addWidget(self.scan_button)
        row.addWidget(self.progress)
        row.addStretch(1)
        row.addWidget(self.protect_button)
        row.addWidget(self.abort_button)

    def enable(self, *, scanning: bool, has_buckets: bool) -> None:
        self.scan_button.setEnabled(True)
        self.scan_button.setText("Stop" if scanning else "Scan account")
        self.protect_button.setEnabled(has_buckets and not scanning)
        self.abort_button.setEnabled(has_buckets and not scanning)

    def stopping(self) -> None:
        """Stop was asked: the scan ends once its threads have."""
        self.scan_button.setEnabled(False)
        self.scan_button.setText("Stopping…")

    def scan_started(self) -> None:
        self.progress.setRange(0, 0)  # busy until the buckets are listed
        self.progress.setVisible(True)

    def show_progress(self, total: int | None, done: int) -> None:
        if total is not None and self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(done)
