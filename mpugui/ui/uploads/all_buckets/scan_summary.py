"""The sentences over the All buckets tab's table: what the account's
unfinished uploads hold and cost (large and bold), and under it when the
scan ran, what it noted, and how many buckets have no rule that aborts
incomplete uploads."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from mpugui.core.orphans.results import AccountScan
from mpugui.core.orphans.totals import totals
from mpugui.core.units import plural

IDLE = "Scan the account to find unfinished uploads in every bucket."


class ScanSummary(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel(IDLE)
        font = QFont(self.summary.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.summary.setFont(font)
        self.summary.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.detail)

    def idle(self) -> None:
        self.summary.setText(IDLE)
        self.detail.setText("")

    def scanning(self) -> None:
        self.summary.setText("Scanning…")
        self.detail.setText("")

    def show_totals(self, scan: AccountScan) -> None:
        self.summary.setText(totals(scan.buckets.values()).sentence())

    def show_scanned(self, scan: AccountScan, notes: list[str]) -> None:
        """A scan that has ended (here, or the last one saved)."""
        when = (scan.finished or scan.started).astimezone()
        self.detail.setText(f"Scanned {when:%Y-%m-%d %H:%M}"
                            + (", stopped before the end." if scan.stopped else ".")
                            + _suffix(scan, notes))

    def show_last(self, last: AccountScan, notes: list[str]) -> None:
        """The account's last scan, shown until a new one runs."""
        when = (last.finished or last.started).astimezone()
        self.detail.setText(f"Last scan {when:%Y-%m-%d %H:%M}"
                            + (" (stopped before the end)." if last.stopped else ".")
                            + _suffix(last, notes))


def _suffix(scan: AccountScan, notes: list[str]) -> str:
    """What the scan noted, and the buckets left unprotected."""
    text = "".join(f" {note}" for note in notes)
    if not scan.buckets:
        return text
    t = totals(scan.buckets.values())
    if t.unprotected:
        have = "has" if t.unprotected == 1 else "have"
        text += (f" {t.unprotected} of {plural(t.buckets, 'bucket')} {have} no rule that "
                 "aborts incomplete uploads.")
    return text
