"""A bucket's in-progress uploads, fetched off the GUI thread for the uploads
browser: the listing page by page, ListParts per upload a few at a time
(cached for the drill-down and the dialogs), and aborts one upload after the
other. Every S3 call runs on the TaskRunner's pool, one call per task, so a
long listing or abort never holds a pool thread; answers come back as
signals on the runner's thread. No widget: the browser shows what arrives.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from mpugui.core.errors import describe
from mpugui.core.inventory.aborts import AbortResult, abort_uploads
from mpugui.core.inventory.listing import (
    PAGE_SIZE,
    PartInfo,
    Upload,
    fetch_upload_page,
    list_upload_parts,
)
from mpugui.core.orphans.scan import listing_region
from mpugui.core.s3.endpoint import ClientFactory, Endpoint
from mpugui.engine.tasks import TaskRunner

PARTS_IN_FLIGHT = 3  # ListParts calls at once, so listing pages never queue behind them

Location = tuple[Endpoint, str, str]  # endpoint, bucket, prefix


class InventoryController(QObject):
    page_listed = Signal(object, object)  # list[Upload], the bucket's region (first page) or None
    listing_done = Signal()  # the last page arrived
    listing_failed = Signal(object)  # BaseException: the listing ended there
    parts_listed = Signal(object, object)  # Upload, list[PartInfo] (now cached)
    parts_failed = Signal(object, object)  # Upload, BaseException (UploadGone: gone since listed)

    def __init__(self, runner: TaskRunner, clients: ClientFactory, page_size: int = PAGE_SIZE,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner, self.clients, self.page_size = runner, clients, page_size
        self._gen = 0  # bumped by every new listing; late answers of older ones are dropped
        self._location: Location | None = None
        self._listing = False
        self._list_task: int | None = None
        self._parts_cache: dict[str, list[PartInfo]] = {}
        self._parts_queue: collections.deque[Upload] = collections.deque()
        self._parts_inflight: set[str] = set()
        self._aborting = False

    @property
    def location(self) -> Location | None:
        """Where the last listing looked (None before the first)."""
        return self._location

    @property
    def listing(self) -> bool:
        return self._listing

    @property
    def aborting(self) -> bool:
        return self._aborting

    def counting(self) -> bool:
        """Pages or parts still to arrive."""
        return self._listing or bool(self._parts_queue or self._parts_inflight)

    # -- the listing --------------------------------------------------------------------

    def start(self, endpoint: Endpoint, bucket: str, prefix: str) -> None:
        """List (again) from the first page; what the previous listing still
        had in flight is dropped."""
        self._gen += 1
        self._location = (endpoint, bucket, prefix)
        self._parts_cache.clear()
        self._parts_queue.clear()
        self._parts_inflight.clear()
        self._listing = True
        self._fetch_page(self._gen, "", "")

    def stop(self) -> bool | None:
        """Drop the pages and parts still to come. None when nothing was
        under way, else whether a listing was."""
        if not self._listing and not self._parts_queue:
            return None
        self._gen += 1
        if self._list_task is not None:
            self.runner.forget(self._list_task)
        self._parts_queue.clear()
        self._parts_inflight.clear()
        was_listing, self._listing = self._listing, False
        return was_listing

    def _fetch_page(self, gen: int, key_marker: str, upload_marker: str) -> None:
        assert self._location is not None
        endpoint, bucket, prefix = self._location
        clients, size = self.clients, self.page_size
        first = not key_marker and not upload_marker

        def work() -> Any:
            client = clients.client(endpoint)
            page = fetch_upload_page(client, bucket, prefix, key_marker, upload_marker, size)
            # The bucket's region prices its uploads, as the account scan does.
            return (*page, listing_region(client, bucket, endpoint) if first else None)

        self._list_task = self.runner.run(work, lambda res: self._page_arrived(gen, res),
                                          lambda exc: self._list_failed(gen, exc))

    def _page_arrived(self, gen: int, result: tuple[list[Upload], Any, str, str | None]
                      ) -> None:
        if gen != self._gen:
            return
        page, next_key, next_upload, region = result
        self.page_listed.emit(page, region)
        self._parts_queue.extend(page)
        self._pump_parts()
        if next_key is None:
            self._listing = False
            self._list_task = None
            self.listing_done.emit()
        else:
            self._fetch_page(gen, next_key, next_upload)

    def _list_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._gen:
            return
        self._listing = False
        self._list_task = None
        self.listing_failed.emit(exc)

    # -- parts per upload ------------------------------------------------------------------

    def cached_parts(self, upload_id: str) -> list[PartInfo] | None:
        return self._parts_cache.get(upload_id)

    def want_parts(self, u: Upload) -> None:
        """The parts of the upload the user looks at, before the others."""
        if u.upload_id not in self._parts_cache and u.upload_id not in self._parts_inflight:
            self._parts_queue.appendleft(u)
            self._pump_parts()

    def _pump_parts(self) -> None:
        if self._location is None:
            return
        endpoint, clients, gen = self._location[0], self.clients, self._gen
        while self._parts_queue and len(self._parts_inflight) < PARTS_IN_FLIGHT:
            u = self._parts_queue.popleft()
            if u.upload_id in self._parts_cache or u.upload_id in self._parts_inflight:
                continue
            self._parts_inflight.add(u.upload_id)

            def work(u: Upload = u) -> list[PartInfo]:
                return list_upload_parts(clients.client(endpoint), u.bucket, u.key, u.upload_id)

            self.runner.run(work, functools.partial(self._parts_arrived, gen, u),
                            functools.partial(self._parts_failed, gen, u))

    def _parts_arrived(self, gen: int, u: Upload, parts: list[PartInfo]) -> None:
        if gen != self._gen:
            return
        self._parts_inflight.discard(u.upload_id)
        self._parts_cache[u.upload_id] = parts
        self._pump_parts()
        self.parts_listed.emit(u, parts)

    def _parts_failed(self, gen: int, u: Upload, exc: BaseException) -> None:
        if gen != self._gen:
            return
        self._parts_inflight.discard(u.upload_id)
        self._pump_parts()
        self.parts_failed.emit(u, exc)

    # -- aborts ----------------------------------------------------------------------------

    def run_aborts(self, uploads: list[Upload],
                   on_result: Callable[[AbortResult], None] | None = None,
                   on_done: Callable[[list[AbortResult]], None] | None = None) -> bool:
        """Abort one upload after the other in the background (each: abort,
        then ListParts until empty), in the listed bucket's endpoint; an
        aborted upload's parts leave the cache. False when nothing was
        listed yet or there is nothing to abort."""
        if self._location is None or not uploads:
            return False
        endpoint, clients = self._location[0], self.clients
        todo = collections.deque(uploads)
        results: list[AbortResult] = []
        self._aborting = True

        def next_one() -> None:
            if not todo:
                self._aborting = False
                if on_done is not None:
                    on_done(results)
                return
            u = todo.popleft()
            self.runner.run(lambda: abort_uploads(clients, endpoint, [u])[0], done,
                            lambda exc: done(AbortResult(u, False, describe(exc))))

        def done(result: AbortResult) -> None:
            results.append(result)
            if result.ok:
                self._parts_cache.pop(result.upload.upload_id, None)
            if on_result is not None:
                on_result(result)
            next_one()

        next_one()
        return True
