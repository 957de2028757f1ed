"""Turning dropped or chosen paths into queued transfers.

A Feeder (core/transfer/feeder.py) walks the paths on its own thread and
hands the files to the engine in batches, so the first files upload within
moments of the drop whatever the folder's size, and the GUI thread only
reads counters: a 100,000-file drop never freezes the window.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from mpugui.core.problem_tally import ProblemTally
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.transfer.feeder import Feeder, FeedRequest
from mpugui.core.transfer.unchanged import skipped_sentence
from mpugui.core.units import plural
from mpugui.engine.engine import TransferEngine
from mpugui.ui.common.messages import Message, MessageBridge

log = logging.getLogger("mpugui.ui.sources")

POLL_MS = 200
STOP_PATIENCE = 0.5  # seconds quitting waits for walks' journal writes in all


class DestinationLike(Protocol):
    """What the destination dialog hands back (ui/destination: Destination)."""

    endpoint: Endpoint
    bucket: str
    prefix: str
    storage_class: str | None
    checksum: str | None
    no_overwrite: bool
    part_size: int | None
    concurrency: int | None


class PathAdder(QObject):
    added = Signal(int)  # files queued by one add_paths() call, once its walk is over
    status = Signal(str, int)  # a status-bar line and its timeout in ms (0: until replaced)

    def __init__(self, engine: TransferEngine, bridge: MessageBridge,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine, self.bridge = engine, bridge
        self._feeders: list[tuple[Feeder, ProblemTally]] = []  # with the problems seen so far
        # Every other walk of this process (resumed at start, run for the CLI):
        # not reported here, but halted with the rest before the journal closes.
        self._others: list[Feeder] = []
        self._others_lock = threading.Lock()  # track() is called from the restore thread
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-add-progress")
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def add_paths(self, paths: list[str], dest: DestinationLike) -> None:
        prefix = dest.prefix or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if dest.concurrency:
            self.engine.set_concurrency(dest.concurrency)
        request = FeedRequest(
            list(paths), dest.bucket, prefix, dest.endpoint, part_size=dest.part_size,
            checksum=dest.checksum, storage_class=dest.storage_class,
            no_overwrite=dest.no_overwrite,
            skip_existing=bool(getattr(dest, "skip_existing", False)), keep_folder_name=True)
        self.watch(Feeder(self.engine, self.engine.journal, request,
                          self.engine.clients.client).start())

    def watch(self, feeder: Feeder) -> None:
        """Report a running feeder's progress (also one resumed at start)."""
        self._feeders.append((feeder, ProblemTally()))
        self.status.emit("Looking through the dropped items…", 0)
        self._timer.start()

    def track(self, feeder: Feeder) -> None:
        """A walk started elsewhere in this process, to halt when quitting
        (any thread; one tracked after the stop is halted at once)."""
        with self._others_lock:
            self._others = [f for f in self._others if not f.finished]
            self._others.append(feeder)
            stopped = self._stopped
        if stopped:
            feeder.halt(STOP_PATIENCE)

    def busy(self) -> bool:
        return any(not f.finished for f, _ in self._feeders)

    def stop(self) -> None:
        """Stop walking (quitting): the walks stay journaled and go on at the
        next start. Every walk of the process is halted before this returns,
        so none writes to the journal the caller then closes."""
        self._timer.stop()
        with self._others_lock:
            self._stopped = True
            walks = [f for f, _ in self._feeders] + self._others
            self._others = []
        for f in walks:
            f.stop()
        # One short wait for them all, for a batch being journaled: a walk
        # blocked on the network (listing the destination) does not hold the
        # quit, and never touches the journal once halted; what it did not
        # journal is walked again at the next start.
        deadline = time.monotonic() + STOP_PATIENCE
        for f in walks:
            if not f.halt(deadline - time.monotonic()):
                log.warning("A folder walk was still journaling files at quit; "
                            "it is walked again at the next start")
        self._feeders.clear()

    def _poll(self) -> None:
        still = []
        for feeder, problems in self._feeders:
            for p in feeder.take_problems():
                # Every entry goes to the log file; the log view gets the
                # first few of each cause, and the rest in one sentence at
                # the end (10,000 unreadable files are not 10,000 lines).
                log.warning("%s", p.text, extra={"bridged": True})
                if problems.add(p.cause, p.text, p.path):
                    self.bridge.post("warning", p.text, source="sources")
            c = feeder.counts
            if not feeder.finished:
                still.append((feeder, problems))
                if c.walked:
                    self.status.emit(f"Adding files… {c.added:,} queued"
                                     + (f", {c.skipped:,} unchanged" if c.skipped else ""), 0)
                continue
            self._finished(feeder, problems)
        self._feeders = still
        if not still:
            self._timer.stop()

    def _finished(self, feeder: Feeder, problems: ProblemTally) -> None:
        c = feeder.counts
        if problems.total:
            for sentence in problems.beyond_each():
                self.bridge.post("warning", sentence, source="sources")
            # One sentence per cause, whatever the count.
            sentence = " ".join(problems.sentences()) + (
                " It was skipped." if problems.total == 1 else " These were skipped.")
            details = "\n".join(problems.details())
            if len(problems.details()) < problems.total:
                details += "\n… (the log file lists every one)"
            self.bridge.alert.emit(Message(time.time(), "warning", sentence, details, "sources"))
        if feeder.note:
            self.bridge.post("warning", feeder.note, source="sources")
        if c.skipped:
            text = (f"Added {plural(c.added, 'file')} to the queue; "
                    f"{skipped_sentence(c.skipped, c.walked)}.")
            if not c.added:
                text = f"Nothing to upload: {skipped_sentence(c.skipped, c.walked)}."
        else:
            text = f"Added {plural(c.added, 'file')} to the queue." if c.added else ""
        self.status.emit(text, 8000)
        self.added.emit(c.added)
