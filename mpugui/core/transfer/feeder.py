"""Adding what the user gave (files and folders) to the queue, off the GUI
thread and as a stream: the walk goes on while the first files upload.

A Feeder runs on its own thread: it walks the sources lazily, skips files
already at the destination (when asked), and hands the rest to the engine in
batches (one journal transaction each). Before the walk starts, the request
itself is journaled as a *walk*; it is deleted once every file is journaled.
So a stop at any moment (Ctrl-C, SIGTERM, quitting) loses nothing: the next
`resume` walks the sources again and adds what is not journaled yet.

Every journal access of the walk's thread happens under one gate, checked
against the stop: `halt()` (quitting) takes the gate, so once it returns
the walk never touches the journal again, even when it was blocked on the
network (listing the destination) and wakes after the journal is closed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from mpugui.core.errors import MpuguiError, describe
from mpugui.core.journal.store import Journal
from mpugui.core.problem_tally import OTHER
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.sources import Problem, SourceFile, identity, walk_sources
from mpugui.core.states import DONE
from mpugui.core.transfer.existing import RemoteListing
from mpugui.core.transfer.request import UploadRequest
from mpugui.core.transfer.unchanged import Recorded, is_unchanged

log = logging.getLogger("mpugui.feeder")

BATCH_FILES = 1000  # files per journal transaction at most
FIRST_BATCH = 100  # ... the first one: the first requests go out after 100 files, not 1,000
BATCH_SECONDS = 0.1  # ... and a batch waits no longer than this to go out
LIST_PAGES = 100  # skip-existing lists at most this many pages of the destination


class Queue(Protocol):
    """What a feeder needs of the engine."""

    def add_many(self, requests: Sequence[UploadRequest], paused: bool = False
                 ) -> tuple[list[int], list[tuple[UploadRequest, str]]]: ...


@dataclass
class FeedRequest:
    """What the user gave: sources, where they go and how."""

    sources: list[str]
    bucket: str
    key: str  # a key for one file, else a prefix ('' or ending in '/')
    endpoint: Endpoint = field(default_factory=Endpoint)
    part_size: int | None = None
    checksum: str | None = None
    storage_class: str | None = None
    no_overwrite: bool = False
    skip_existing: bool = False
    keep_folder_name: bool = False  # a GUI drop keeps the folder's own name

    def to_json(self) -> str:
        data = asdict(self)
        data["endpoint"] = self.endpoint.to_json()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeedRequest:
        data = json.loads(text)
        data["endpoint"] = Endpoint.from_json(data["endpoint"])
        return cls(**data)

    def upload(self, f: SourceFile) -> UploadRequest:
        return UploadRequest(f.path, self.bucket, f.key, self.endpoint,
                             part_size=self.part_size, checksum=self.checksum,
                             storage_class=self.storage_class, no_overwrite=self.no_overwrite,
                             seen=(f.size, f.mtime_ns) if f.size >= 0 else None)


@dataclass
class FeedCounts:
    walked: int = 0  # files found
    added: int = 0
    skipped: int = 0  # unchanged at the destination
    known: int = 0  # already journaled by an earlier, interrupted walk
    problems: int = 0


class Feeder:
    """Walks one FeedRequest into the queue on a thread of its own."""

    def __init__(self, queue: Queue, journal: Journal, request: FeedRequest,
                 client: Callable[[Endpoint], Any] | None = None,
                 walk_id: int | None = None, paused: bool = False) -> None:
        self.queue, self.journal, self.request = queue, journal, request
        self.paused = paused  # the files wait for a resume (a walk resumed at start)
        self._client = client
        self.walk_id = walk_id
        # Resuming a walk an earlier run did not finish: skip what it journaled.
        self._resuming = walk_id is not None
        self.counts = FeedCounts()
        self.note: str | None = None  # a sentence about skip-existing, when degraded
        self.error: str | None = None  # the walk stopped early: why
        self._problems: list[Problem] = []
        self._lock = threading.Lock()
        self._gate = threading.Lock()  # held around each journal access of the walk
        self._halted = False  # set under the gate: the walk no longer touches the journal
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control (any thread) ---------------------------------------------------------

    def start(self) -> Feeder:
        if self.walk_id is None:
            self.walk_id = self.journal.add_walk(self.request.to_json())
        self._thread = threading.Thread(target=self._run, name="mpugui-feeder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop walking; what is not journaled yet is walked again by resume."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def halt(self, timeout: float) -> bool:
        """Stop, and make sure the walk never touches the journal again (the
        caller is about to close it). Waits at most `timeout` for a journal
        write under way (a batch is ~1,000 rows); False if one still runs."""
        self.stop()
        if not self._gate.acquire(timeout=max(0.0, timeout)):
            return False
        self._halted = True
        self._gate.release()
        return True

    def redirect(self, queue: Queue, paused: bool) -> None:
        """Send the files not walked yet to `queue`, paused or not (a forwarded
        `resume --all` takes over a walk resumed paused at start)."""
        with self._gate:
            self.queue, self.paused = queue, paused

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def take_problems(self) -> list[Problem]:
        """Entries found since the last call that cannot be uploaded, each
        with its sentence and its cause (said by cause: problem_tally)."""
        with self._lock:
            out, self._problems = self._problems, []
        return out

    # -- the walk (its own thread) -----------------------------------------------------

    def _run(self) -> None:
        try:
            self._walk()
            with self._gate:
                if not self._stop.is_set() and not self._halted and self.walk_id is not None:
                    self.journal.finish_walk(self.walk_id)
        except Exception as exc:  # reported, never lost: the walk stays journaled
            log.warning("Adding %s stopped", self.request.sources, exc_info=True)
            self.error = describe(exc)
            self._problem(Problem(self.error))
        finally:
            self._done.set()

    def _walk(self) -> None:
        req = self.request
        batch: list[SourceFile] = []
        started = time.monotonic()
        size = FIRST_BATCH
        listing = self._listing()
        for item in walk_sources(req.sources, req.key, keep_folder_name=req.keep_folder_name):
            if self._stop.is_set():
                return
            if isinstance(item, Problem):
                self._problem(item)
                continue
            self.counts.walked += 1
            batch.append(item)
            if len(batch) >= size or time.monotonic() - started > BATCH_SECONDS:
                self._send(batch, listing)
                batch, started, size = [], time.monotonic(), BATCH_FILES
        if batch and not self._stop.is_set():
            self._send(batch, listing)
        if listing is not None:
            self.note = listing.note

    def _listing(self) -> RemoteListing | None:
        req = self.request
        if not req.skip_existing or self._client is None:
            return None
        # Beyond LIST_PAGES pages (a bucket's root with millions of objects,
        # say) the rest is asked key by key.
        return RemoteListing(self._client(req.endpoint), req.bucket, req.key,
                             max_pages=LIST_PAGES)

    def _send(self, files: list[SourceFile], listing: RemoteListing | None) -> None:
        recorded: dict[tuple[str, str], Recorded] = {}
        with self._gate:  # journal reads
            if self._halted:
                return
            if self._resuming:
                files = self._not_journaled(files)
            if listing is not None and files:
                recorded = self._recorded(files)
        if listing is not None:
            files = self._changed_only(files, listing, recorded)  # the network: outside the gate
        if not files:
            return
        with self._gate:  # the journal write
            if self._halted or self._stop.is_set():
                return  # walked again by the next resume (the walk stays journaled)
            ids, problems = self.queue.add_many([self.request.upload(f) for f in files],
                                                paused=self.paused)
        self.counts.added += len(ids)
        for req, sentence in problems:
            self._problem(Problem(f"{req.source}: {sentence}", OTHER, req.source))

    def _not_journaled(self, files: list[SourceFile]) -> list[SourceFile]:
        known = {(r.source, r.key) for r in
                 self.journal.find(self.request.bucket, [f.key for f in files])}
        fresh = [f for f in files if (f.path, f.key) not in known]
        self.counts.known += len(files) - len(fresh)
        return fresh

    def _changed_only(self, files: list[SourceFile], listing: RemoteListing,
                      recorded: dict[tuple[str, str], Recorded]) -> list[SourceFile]:
        out = []
        for f in files:
            try:
                remote = listing.get(f.key)
                known = recorded.get((f.path, f.key))
                if remote is not None and is_unchanged(
                        f.path, identity(f.path, like=known.sample if known else ""),
                        remote, known, self.request.part_size):
                    self.counts.skipped += 1
                    continue
            except MpuguiError:
                raise  # no such bucket: every file would fail the same way
            except OSError:
                pass  # unreadable here: the upload says why
            out.append(f)
        return out

    def _recorded(self, files: Iterable[SourceFile]) -> dict[tuple[str, str], Recorded]:
        """What this app's journal says it uploaded before, per (file, key)."""
        out: dict[tuple[str, str], Recorded] = {}
        for r in self.journal.find(self.request.bucket, [f.key for f in files]):
            if r.state == DONE and r.final_etag:
                out[(r.source, r.key)] = Recorded(r.final_etag, r.size, r.mtime_ns, r.sample)
        return out

    def _problem(self, problem: Problem) -> None:
        with self._lock:
            self.counts.problems += 1
            self._problems.append(problem)


def resume_walks(queue: Queue, journal: Journal,
                 client: Callable[[Endpoint], Any] | None = None,
                 paused: bool = False) -> list[Feeder]:
    """Start a feeder for every walk an earlier run did not finish; each adds
    only the files not journaled yet (paused ones with `paused`)."""
    feeders = []
    for walk_id, text in journal.walks():
        try:
            request = FeedRequest.from_json(text)
        except (ValueError, TypeError, KeyError):
            log.warning("Dropping an unreadable walk from the journal: %r", text)
            journal.finish_walk(walk_id)
            continue
        feeders.append(Feeder(queue, journal, request, client, walk_id=walk_id,
                              paused=paused).start())
    return feeders
