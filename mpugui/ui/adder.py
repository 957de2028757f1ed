"""Turning dropped or chosen paths into queued transfers.

The walk (folders, symlink loops, unreadable entries) runs on the task
runner, off the GUI thread. The files then go to the engine in time-boxed
batches on the GUI thread, so dropping 10,000 files never freezes the window.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from mpugui.core.endpoint import Endpoint
from mpugui.core.sources import Walk, collect
from mpugui.engine.engine import TransferEngine, UploadRequest
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.messages import Message, MessageBridge, user_error

log = logging.getLogger("mpugui.ui.sources")

SLICE_S = 0.02  # GUI-thread time per batch of engine.add calls


class DestinationLike(Protocol):
    """What the destination dialog hands back (mpugui.ui.destination_dialog.Destination)."""

    endpoint: Endpoint
    bucket: str
    prefix: str
    storage_class: str | None
    checksum: str | None
    no_overwrite: bool
    part_size: int | None
    concurrency: int | None


@dataclass
class _Job:
    remaining: int
    added: int = 0


class PathAdder(QObject):
    added = Signal(int)  # files queued by one add_paths() call, once all are handed over
    status = Signal(str, int)  # a status-bar line and its timeout in ms (0: until replaced)

    def __init__(self, engine: TransferEngine, runner: TaskRunner, bridge: MessageBridge,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine, self.runner, self.bridge = engine, runner, bridge
        self._pending: collections.deque[tuple[UploadRequest, _Job]] = collections.deque()
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-add-batches")
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._batch)

    def add_paths(self, paths: list[str], dest: DestinationLike) -> None:
        prefix = dest.prefix or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if dest.concurrency:
            self.engine.set_concurrency(dest.concurrency)
        self.status.emit("Looking through the dropped items…", 0)
        paths = list(paths)

        def walked(walk: Walk) -> None:
            self._queue(walk, dest)

        def failed(exc: BaseException) -> None:
            self.bridge.report(exc, "Reading the dropped items failed")
            self.added.emit(0)

        self.runner.run(lambda: collect(paths, prefix, keep_folder_name=True), walked, failed)

    def busy(self) -> bool:
        return bool(self._pending)

    def stop(self) -> None:
        self._stopped = True
        self._timer.stop()
        self._pending.clear()

    def _queue(self, walk: Walk, dest: DestinationLike) -> None:
        if self._stopped:
            return
        for problem in walk.problems:
            # logged for the file, posted for the log view (not twice)
            log.warning("%s", problem, extra={"bridged": True})
            self.bridge.post("warning", problem, source="sources")
        if walk.problems:
            n = len(walk.problems)
            sentence = (f"{n} of the dropped items cannot be uploaded and were skipped."
                        if n > 1 else
                        "One of the dropped items cannot be uploaded and was skipped.")
            details = "\n".join(walk.problems[:50]) + ("\n…" if n > 50 else "")
            self.bridge.alert.emit(Message(time.time(), "warning", sentence, details, "sources"))
        if not walk.files:
            self.status.emit("", 0)
            self.added.emit(0)
            return
        job = _Job(len(walk.files))
        for f in walk.files:
            self._pending.append((UploadRequest(
                f.path, dest.bucket, f.key, dest.endpoint, part_size=dest.part_size,
                checksum=dest.checksum, storage_class=dest.storage_class,
                no_overwrite=dest.no_overwrite), job))
        self.status.emit(f"Adding {len(walk.files):,} files…", 0)
        self._timer.start()

    def _batch(self) -> None:
        deadline = time.monotonic() + SLICE_S
        while self._pending and time.monotonic() < deadline:
            req, job = self._pending.popleft()
            try:
                self.engine.add(req)
                job.added += 1
            except Exception as exc:  # one bad file never stops the others
                self.bridge.post("error", f"{req.source}: {user_error(exc)}")
            job.remaining -= 1
            if job.remaining == 0:
                self.status.emit(f"Added {job.added:,} files to the queue.", 5000)
                self.added.emit(job.added)
        if not self._pending:
            self._timer.stop()
