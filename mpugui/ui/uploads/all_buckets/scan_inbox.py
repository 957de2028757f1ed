"""Where an account scan's threads leave what they find for the All buckets
tab: a locked inbox the tab's 10 Hz timer empties, so the GUI thread takes a
tick's findings at once and never waits on the scan."""

from __future__ import annotations

import threading

from mpugui.core.orphans.results import BucketReport, ScannedUpload
from mpugui.core.orphans.scan import ScanListener


class ScanInbox(ScanListener):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total: int | None = None  # buckets to scan, once listed
        self.skipped = 0
        self._buckets: list[BucketReport] = []
        self._uploads: list[ScannedUpload] = []
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        with self._lock:
            self.notes = [*self.notes, text]  # replaced, never changed: read unlocked

    def buckets_listed(self, names: list[str]) -> None:
        with self._lock:
            self.total = len(names)

    def upload_found(self, row: ScannedUpload) -> None:
        with self._lock:
            self._uploads.append(row)

    def bucket_done(self, report: BucketReport) -> None:
        with self._lock:
            self._buckets.append(report)

    def bucket_skipped(self, name: str, region: str) -> None:
        with self._lock:
            self.skipped += 1

    def take(self) -> tuple[list[BucketReport], list[ScannedUpload]]:
        """What arrived since the last take."""
        with self._lock:
            buckets, uploads = self._buckets, self._uploads
            self._buckets, self._uploads = [], []
        return buckets, uploads
