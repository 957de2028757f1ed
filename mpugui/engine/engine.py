"""The transfer engine: a QObject that owns the queue, hands jobs to worker
QThreads and publishes one progress snapshot per tick.

Workers never emit per-chunk signals: they bump counters that the tick reads.
State changes (a transfer done, failed, paused) are emitted as they happen and
reach the GUI thread through queued connections.
"""

from __future__ import annotations

import bisect
import logging
import mimetypes
import os
import random
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError
from PySide6.QtCore import QObject, QThread, QTimer, Signal

from mpugui.core import multipart as s3
from mpugui.core.endpoint import ClientFactory, Endpoint
from mpugui.core.errors import (
    Interrupted,
    MpuguiError,
    SourceChanged,
    describe,
    is_transient,
)
from mpugui.core.journal.store import (
    ACTIVE_STATES,
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    Journal,
    JournalError,
    PartRecord,
    TransferRecord,
)
from mpugui.core.sources import check_unchanged, identity
from mpugui.core.transfer import recovery
from mpugui.core.transfer.adaptive import MAXIMUM, MEMORY_BUDGET, AdaptiveConcurrency, inputs_from
from mpugui.core.transfer.bandwidth import RateLimiter
from mpugui.core.transfer.body import (
    BufferPool,
    PartBody,
    PartBuffer,
    limit_malloc_arenas,
    read_range,
)
from mpugui.core.transfer.checksums import (
    DEFAULT_ALGORITHM,
    algorithm,
    clean_etag,
    is_md5_etag,
    md5_hex,
)
from mpugui.core.transfer.plan import DEFAULT_PART_SIZE, DEFAULT_THRESHOLD, TAPER_V1, make_plan
from mpugui.core.transfer.progress import PartProgress, Transfer, now
from mpugui.core.transfer.scheduler import ABORT, COMPLETE, PART, PREPARE, PUT, Job, Scheduler
from mpugui.core.transfer.snapshot import DONE as PART_DONE
from mpugui.core.transfer.snapshot import FAILED as PART_FAILED
from mpugui.core.transfer.snapshot import PENDING, EngineSnapshot

log = logging.getLogger("mpugui.engine")

DEFAULT_CONCURRENCY = 0  # 0: found while running (core/transfer/adaptive.py); a number pins it


def default_read_lanes() -> int:
    """Parts read and checksummed at the same time: all cores but one. Reading
    a 16 MiB part (page faults, copy) and its CRC are CPU work without the GIL;
    sixteen parts starting together took both cores of a 2-core machine and
    held the GUI thread off for up to ~250 ms. One core stays for the event
    loop and the network stack; the sends themselves are not limited."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class EngineSettings:
    part_size: int = DEFAULT_PART_SIZE
    threshold: int = DEFAULT_THRESHOLD
    concurrency: int = DEFAULT_CONCURRENCY
    max_concurrency: int = MAXIMUM  # adaptive concurrency's ceiling (a user maximum)
    memory_budget: int = MEMORY_BUDGET  # adaptive: part buffers in flight at most, bytes
    checksum: str = DEFAULT_ALGORITHM
    bandwidth_limit: int = 0  # bytes/s, 0 = unlimited
    part_retries: int = 3  # our retries of a part after botocore's own
    retry_base: float = 1.0  # seconds; doubled per failure, with jitter
    tick_ms: int = 100
    read_lanes: int = field(default_factory=default_read_lanes)


@dataclass
class UploadRequest:
    source: str
    bucket: str
    key: str
    endpoint: Endpoint = field(default_factory=Endpoint)
    part_size: int | None = None
    checksum: str | None = None
    storage_class: str | None = None
    no_overwrite: bool = False
    content_type: str | None = None


class _WorkerThread(QThread):
    """A thread that runs the engine's worker loop; no logic of its own."""

    def __init__(self, engine: TransferEngine, index: int) -> None:
        super().__init__()
        self.setObjectName(f"mpugui-part-worker-{index}")
        self._engine = engine

    def run(self) -> None:
        self._engine._worker_loop()


class TransferEngine(QObject):
    snapshot = Signal(object)  # EngineSnapshot, once per tick while anything changes
    state_changed = Signal(int, str)  # transfer id, new state
    message = Signal(str, str)  # level name, sentence
    idle = Signal()  # nothing queued or running any more

    def __init__(self, journal: Journal, clients: ClientFactory | None = None,
                 settings: EngineSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.journal = journal
        self.settings = settings or EngineSettings()
        self.clients = clients or ClientFactory(self.settings.concurrency + 4)
        self.limiter = RateLimiter(self.settings.bandwidth_limit)
        self._adaptive: AdaptiveConcurrency | None = None
        if not self.settings.concurrency:
            self._adaptive = AdaptiveConcurrency(self.settings.max_concurrency,
                                                 self.settings.memory_budget)
        self._sched = Scheduler(self._adaptive.level if self._adaptive is not None
                                else self.settings.concurrency)
        self._lock = self._sched.lock
        self._threads: list[_WorkerThread] = []
        self._buffers = BufferPool()  # part buffers: memory follows the parts in flight
        self._read_lanes = threading.BoundedSemaphore(max(1, self.settings.read_lanes))
        limit_malloc_arenas()  # before the workers start: see body.py
        self._by_id: dict[int, Transfer] = {}
        self._maybe_created: set[int] = set()  # restored; Create may have been sent
        self._last_emitted: tuple = ()
        self._last_transfers: tuple = ()
        self._last_snap: EngineSnapshot | None = None
        self._last_stamp: tuple = ()
        self._structure = 0  # bumped when transfers are added or removed
        self._busy_at_snapshot = False
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-engine-tick")
        self._timer.setInterval(self.settings.tick_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._was_busy = False

    # -- queue ------------------------------------------------------------------

    def add(self, req: UploadRequest) -> int:
        """Plan and journal one file; raises MpuguiError with a sentence."""
        try:
            ident = identity(req.source)
        except MpuguiError:
            raise
        except OSError as exc:
            raise MpuguiError(describe(exc)) from exc
        plan = make_plan(ident.size, req.part_size or self.settings.part_size,
                         self.settings.threshold,
                         taper=0 if req.endpoint.needs_equal_parts() else TAPER_V1)
        content_type = req.content_type or mimetypes.guess_type(req.source)[0]
        rec = TransferRecord(
            source=req.source, bucket=req.bucket, key=req.key, endpoint=req.endpoint,
            size=ident.size, mtime_ns=ident.mtime_ns, sample=ident.sample,
            part_size=plan.part_size, multipart=plan.multipart, taper=plan.taper,
            checksum=algorithm(req.checksum or self.settings.checksum).name,
            storage_class=req.storage_class, content_type=content_type,
            no_overwrite=req.no_overwrite, state=QUEUED)
        self.journal.add(rec)
        self._insert(Transfer(rec, plan, {}))
        return rec.id

    def restore(self, ids: list[int] | None = None, auto_resume: bool = False) -> list[int]:
        """Load transfers from the journal. Ones that were running when the
        app stopped or crashed come back paused, or queued with auto_resume."""
        loaded = []
        for rec in self.journal.transfers():
            if rec.id in self._by_id or (ids is not None and rec.id not in ids):
                continue
            t = Transfer(rec, rec.plan(), self.journal.parts(rec.id))
            if rec.multipart and rec.upload_id is None and rec.state != QUEUED:
                # Its Create may have reached the server just before a crash
                # (the state is journaled before Create): look for that upload.
                self._maybe_created.add(rec.id)
            if rec.state in ACTIVE_STATES or rec.state == QUEUED:
                t.state = QUEUED if auto_resume else PAUSED
                if not auto_resume:
                    self.journal.update(rec.id, state=PAUSED)
            self._insert(t)
            loaded.append(rec.id)
        return loaded

    def _insert(self, t: Transfer) -> None:
        with self._lock:
            self._by_id[t.id] = t
            # New transfers get the highest position, so this is an append;
            # a full sort per add made adding 10,000 files quadratic.
            bisect.insort(self._sched.transfers, t, key=lambda x: (x.rec.position, x.id))
            self._structure += 1
            self._was_busy = True
        self._ensure_threads()
        self._sched.wake()
        self.state_changed.emit(t.id, t.state)

    def transfer_ids(self) -> list[int]:
        with self._lock:
            return [t.id for t in self._sched.transfers]

    def record(self, transfer_id: int) -> TransferRecord:
        return self._by_id[transfer_id].rec

    # -- user actions -------------------------------------------------------------

    def pause(self, ids: list[int]) -> None:
        for t in self._pick(ids):
            with self._lock:
                if t.state not in (QUEUED, UPLOADING) or t.cancelling:
                    continue
                t.cancel.set()
                t.prepared = False
                t.set_state(PAUSED)
            self.journal.update(t.id, state=PAUSED)
            self._changed(t)

    def resume(self, ids: list[int]) -> None:
        """Resume paused or failed transfers from their finished parts."""
        for t in self._pick(ids):
            with self._lock:
                if t.state not in (PAUSED, FAILED) or t.cancelling or t.aborting:
                    continue
                t.cancel = threading.Event()
                t.prepared = False
                t.complete_failures = 0
                for part in t.parts:
                    if part.state == PART_FAILED:
                        t.mark_part(part, PENDING)
                    part.failures, part.not_before, part.error = 0, 0.0, None
                t.set_state(QUEUED)
                t.rec.error = None
            self.journal.update(t.id, state=QUEUED, error=None)
            self._changed(t)
        self._was_busy = True
        self._ensure_threads()
        self._sched.wake()

    retry = resume

    def cancel(self, ids: list[int], restart: bool = False) -> None:
        """Stop and abort the upload on the server, leaving no part behind.
        With restart, the file is queued again from scratch afterwards."""
        for t in self._pick(ids):
            with self._lock:
                if t.state in FINAL_STATES or t.cancelling or t.aborting:
                    continue
                t.cancel.set()
                t.restart_after_abort = restart
                if t.rec.upload_id is None and t.inflight == 0:
                    finish_now = True
                else:
                    finish_now = False
                    t.cancelling = True
                    t.changed()
            if finish_now:
                self._cancelled(t)
        self._was_busy = True
        self._ensure_threads()
        self._sched.wake()

    def remove(self, ids: list[int]) -> list[int]:
        """Forget finished, cancelled, paused or failed transfers. A paused or
        failed upload stays on the server (the uploads browser finds it)."""
        removed = []
        for t in self._pick(ids):
            with self._lock:
                # A cancelled transfer's only job in flight can be the abort job
                # that is finishing it (cancel with restart removes it from there).
                busy = t.inflight and t.state != CANCELLED
                if t.state in ACTIVE_STATES or t.state == QUEUED or busy or t.cancelling \
                        or t.aborting:
                    continue
                self._sched.transfers.remove(t)
                del self._by_id[t.id]
                self._structure += 1
                t.close_file()
            self.journal.remove(t.id)
            removed.append(t.id)
            self.state_changed.emit(t.id, "removed")
        return removed

    def pause_all(self) -> None:
        self.pause(self.transfer_ids())

    def resume_all(self) -> None:
        self.resume(self.transfer_ids())

    def set_bandwidth_limit(self, rate: int) -> None:
        self.limiter.set_rate(rate)

    def set_concurrency(self, n: int) -> None:
        """Pin the number of parts in flight; 0 lets the engine find it again."""
        self._adaptive = None
        if n <= 0:
            self._adaptive = AdaptiveConcurrency(self.settings.max_concurrency,
                                                 self.settings.memory_budget)
            n = self._adaptive.level
        self._set_limit(n)

    def _set_limit(self, n: int) -> None:
        with self._lock:
            self._sched.limit = max(1, int(n))
        self._ensure_threads()
        self._sched.wake()

    @property
    def concurrency(self) -> int:
        return self._sched.limit

    def busy(self) -> bool:
        with self._lock:
            return any(map(_moving, self._sched.transfers))

    def shutdown(self) -> None:
        """Stop every worker. Running transfers keep their journal state, so
        the next start finds them as after a crash and resumes them."""
        self._timer.stop()
        with self._lock:
            self._sched.stopping = True
            for t in self._sched.transfers:
                t.cancel.set()
            self._lock.notify_all()
        for th in self._threads:
            th.wait()
        self._threads.clear()
        with self._lock:
            for t in self._sched.transfers:
                t.close_file()

    def _pick(self, ids: list[int]) -> list[Transfer]:
        with self._lock:
            return [self._by_id[i] for i in ids if i in self._by_id]

    # -- workers ----------------------------------------------------------------

    def _ensure_threads(self) -> None:
        want = self._sched.limit + 1  # one spare for aborts, which skip the limit
        while len(self._threads) < want and not self._sched.stopping:
            th = _WorkerThread(self, len(self._threads))
            self._threads.append(th)
            th.start()

    def _worker_loop(self) -> None:
        while True:
            job = self._sched.next_job()
            if job is None:
                return
            buffer = self._buffers.take() if job.kind in (PART, PUT) else PartBuffer()
            try:
                self._run(job, buffer)
            except BaseException as exc:  # a job never kills its worker
                try:
                    self._job_failed(job, exc)
                except Exception:  # nor does handling its failure
                    log.exception("Handling the failure of a %s job failed", job.kind)
            finally:
                self._sched.job_done(job)
                self._settle(job.transfer)
            if buffer.capacity:
                self._buffers.give(buffer, self._sched.limit, 2 * self.settings.part_size)

    def _run(self, job: Job, buffer: PartBuffer) -> None:
        if job.kind == PREPARE:
            self._prepare(job.transfer)
        elif job.kind in (PART, PUT):
            assert job.part is not None
            self._send(job.transfer, job.part, buffer)
        elif job.kind == COMPLETE:
            self._complete(job.transfer)
        elif job.kind == ABORT:
            self._abort(job.transfer)

    def _client(self, t: Transfer) -> Any:
        endpoint = t.rec.endpoint
        if t.algo.s3_name is None:
            # md5 or none: keep botocore from adding (and reading the body for)
            # its default CRC32 on top.
            endpoint = endpoint.with_(checksum_when_required=True)
        return self.clients.client(endpoint)

    def _prepare(self, t: Transfer) -> None:
        try:
            rec = t.rec
            check_unchanged(rec.source, t.identity)
            if t.fd is None:
                t.fd = os.open(rec.source, os.O_RDONLY)
            client = self._client(t)
            if rec.upload_id is None:
                if rec.no_overwrite and s3.head_object(client, rec.bucket, rec.key) is not None:
                    raise MpuguiError(f"{rec.uri} already exists and the transfer is set "
                                      "not to overwrite it.")
                if rec.multipart and not t.cancel.is_set():
                    # Journaled before Create: after a crash between the server
                    # creating the upload and its answer, restore knows to look.
                    self.journal.update(t.id, state=UPLOADING)
                    upload_id, retried = None, 0
                    if t.id in self._maybe_created:
                        strays = recovery.stray_uploads(self.journal, rec, client)
                        upload_id = strays[0] if strays else None
                        if upload_id:
                            log.info("Adopted upload %s of %s, created before a crash",
                                     upload_id, rec.uri)
                    if upload_id is None:
                        upload_id, retried = s3.create_upload(client, rec, t.algo)
                    self._maybe_created.discard(t.id)
                    # Journaled before any part leaves: a crash now leaves no orphan
                    # the journal does not know.
                    self.journal.update(t.id, upload_id=upload_id, state=UPLOADING)
                    with self._lock:
                        rec.upload_id = upload_id
                        t.changed()
                    if retried:
                        # An earlier attempt may have created an upload whose
                        # answer was lost: abort it, or it stays billed, unseen.
                        for stray in recovery.stray_uploads(self.journal, rec, client):
                            log.info("Aborting upload %s of %s left by a retried Create",
                                     stray, rec.uri)
                            s3.abort_until_empty(client, rec.bucket, rec.key, stray)
            elif self._reconcile(t, client):
                return  # it was completed before a crash; now recorded as done
            with self._lock:
                if not t.cancel.is_set():
                    t.prepared = True
                    t.set_state(UPLOADING)
            if not t.cancel.is_set():
                self.journal.update(t.id, state=UPLOADING)
            self._changed(t)
        finally:
            t.preparing = False

    def _reconcile(self, t: Transfer, client: Any) -> bool:
        """Mark the parts the server already holds (core/transfer/recovery.py decides
        which); True when the upload turns out to be completed already."""
        try:
            kept = recovery.parts_to_keep(self.journal, t, client)
        except recovery.UploadGone:
            done = recovery.completed_before(self.journal, t, client)
            if done is None:
                raise
            self._finish(t, *done)
            return True
        with self._lock:
            for part in t.parts:
                keep = kept.get(part.number)
                if keep is not None:
                    part.etag, part.checksum = keep.etag, keep.checksum
                    t.mark_part(part, PART_DONE)
                elif part.state == PART_DONE:
                    part.etag = part.checksum = None
                    t.mark_part(part, PENDING)
        log.info("Reconciled %s with the server: %d of %d parts kept", t.rec.uri,
                 t.parts_done(), len(t.parts))
        return False

    def _send(self, t: Transfer, part: PartProgress, buffer: PartBuffer) -> None:
        rec = t.rec
        if t.fd is None:
            raise MpuguiError(f"'{rec.source}' is not open.")
        with self._read_lanes:
            data = read_range(t.fd, part.offset, part.size, buffer, rec.source)
            checksum = t.algo.value(data)
        body = PartBody(data, t.cancel, self.limiter)
        with self._lock:
            part.body, part.started, part.error = body, now(), None
            part.attempts += 1
            part.touch()
        retries = 0
        try:
            if t.plan.multipart:
                etag, retries = s3.upload_part(self._client(t), rec, part.number, body,
                                               checksum, t.algo)
            else:
                check_unchanged(rec.source, t.identity)
                etag, retries = s3.put_object(self._client(t), rec, body, checksum, t.algo)
        finally:
            with self._lock:
                t.wire_bytes += body.total
        if t.algo.name == "md5" and is_md5_etag(etag) and clean_etag(etag) != md5_hex(data):
            raise MpuguiError(f"Part {part.number} of {rec.uri} was stored with a different "
                              "MD5 than was sent.")
        if t.plan.multipart:
            self.journal.record_part(t.id, PartRecord(part.number, part.size, etag, checksum))
        with self._lock:
            part.etag, part.checksum, part.body = etag, checksum, None
            part.attempts += retries
            t.retries += retries
            t.mark_part(part, PART_DONE)
        if not t.plan.multipart:
            verification = "size"
            if t.algo.name == "md5" and is_md5_etag(etag):
                verification = "size + MD5"
            self._finish(t, etag, f"{verification} (PutObject {t.algo.name})")

    def _complete(self, t: Transfer) -> None:
        rec = t.rec
        check_unchanged(rec.source, t.identity)
        parts = t.done_records()
        client = self._client(t)
        etag = s3.complete(client, rec, parts, t.algo)
        with self._lock:
            t.set_state(VERIFYING)
        self.journal.update(t.id, state=VERIFYING, final_etag=etag)
        self._changed(t)
        verification = s3.verify(client, rec, parts, t.algo, etag)
        self._finish(t, etag, verification)

    def _finish(self, t: Transfer, etag: str, verification: str) -> None:
        self.journal.update(t.id, state=DONE, final_etag=etag, verification=verification,
                            error=None)
        with self._lock:
            t.rec.final_etag, t.rec.verification = etag, verification
            t.set_state(DONE)
            t.close_file()
        log.info("Uploaded %s → %s (%s)", t.rec.source, t.rec.uri, verification)
        self.message.emit("info", f"Uploaded {os.path.basename(t.rec.source)} to {t.rec.uri}.")
        self._changed(t)

    def _abort(self, t: Transfer) -> None:
        rec = t.rec
        try:
            if rec.upload_id:
                s3.abort_until_empty(self._client(t), rec.bucket, rec.key, rec.upload_id)
        except Exception as exc:
            sentence = describe(exc, bucket=rec.bucket, op="s3:AbortMultipartUpload")
            log.warning("Abort of %s failed", rec.uri, exc_info=True)
            with self._lock:
                t.aborting = False
                t.set_state(FAILED, f"Cancel failed; the upload is still on the server: "
                                    f"{sentence}")
            self.journal.update(t.id, state=FAILED, error=t.detail)
            self._changed(t)
            return
        self._cancelled(t)

    def _cancelled(self, t: Transfer) -> None:
        self.journal.forget_parts(t.id)
        self.journal.update(t.id, state=CANCELLED, error=None)
        with self._lock:
            t.aborting = t.cancelling = False
            t.reset_parts()
            t.set_state(CANCELLED)
            t.close_file()
            restart = t.restart_after_abort
        self.message.emit("info", f"Cancelled {t.rec.uri}; nothing of it is left on the server.")
        self._changed(t)
        if restart:
            rec = t.rec
            self.remove([t.id])
            self.add(UploadRequest(rec.source, rec.bucket, rec.key, rec.endpoint,
                                   rec.part_size or None, rec.checksum, rec.storage_class,
                                   rec.no_overwrite, rec.content_type))

    # -- failures -----------------------------------------------------------------

    def _job_failed(self, job: Job, exc: BaseException) -> None:
        t, part = job.transfer, job.part
        if isinstance(exc, Interrupted) or (t.cancel.is_set() and job.kind in (PART, PUT)):
            with self._lock:
                if part is not None and part.state != PART_DONE:
                    part.body = None
                    t.mark_part(part, PENDING)
            return
        retries = 0
        if isinstance(exc, ClientError):
            retries = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        sentence = describe(exc, bucket=t.rec.bucket, op=_OPS.get(job.kind, "this operation"))
        if isinstance(exc, SourceChanged):
            # Say what became of the upload: kept (resumable once the file is
            # back as it was) or never stored (small files check before sending).
            sentence += (" The partial upload is kept on the server: put the file back as it "
                         "was and resume, or start over to upload it as it is now."
                         if t.rec.upload_id else
                         " Nothing was stored; start over to upload it as it is now.")
        transient = is_transient(exc)
        log.warning("%s of %s failed: %s", job.kind, t.rec.uri, sentence,
                    exc_info=not transient and not isinstance(exc, MpuguiError))
        with self._lock:
            t.retries += retries
            if part is not None and part.state != PART_DONE:
                part.body = None
                part.attempts += retries
                part.failures += 1
                part.error = sentence
                if transient and part.failures <= self.settings.part_retries:
                    part.not_before = now() + self._backoff(part.failures)
                    t.retries += 1
                    t.mark_part(part, PENDING)
                    log.info("Part %d of %s will be retried (%d of %d)", part.number,
                             t.rec.uri, part.failures, self.settings.part_retries)
                    return
                t.mark_part(part, PART_FAILED)
            if job.kind == COMPLETE and transient:
                t.complete_failures += 1
                if t.complete_failures <= self.settings.part_retries:
                    t.not_before = now() + self._backoff(t.complete_failures)
                    t.set_state(UPLOADING)
                    return
            if t.state == FAILED:
                return  # another part already failed it
            t.cancel.set()  # stop the other parts of this transfer
            t.prepared = False
            t.set_state(FAILED, sentence)
            t.rec.error = sentence  # as journaled; the CLI's --json lines report it
        try:
            self.journal.update(t.id, state=FAILED, error=sentence)
        except JournalError:
            # The journal itself failed (disk full, locked): the transfer stays
            # failed in memory with that sentence; the journal keeps its last
            # committed state, from which a restart resumes.
            log.warning("Could not journal the failure of %s", t.rec.uri, exc_info=True)
        self.message.emit("error", f"{os.path.basename(t.rec.source)}: {sentence}")
        self._changed(t)

    def _backoff(self, failures: int) -> float:
        base = self.settings.retry_base * (2 ** (failures - 1))
        return min(30.0, base) * random.uniform(0.5, 1.5)

    def _settle(self, t: Transfer) -> None:
        with self._lock:
            if t.inflight == 0 and t.state in (PAUSED, FAILED) and not t.cancelling:
                t.close_file()
            t.changed()

    def _changed(self, t: Transfer) -> None:
        self.state_changed.emit(t.id, t.state)

    # -- ticks ------------------------------------------------------------------

    def current_snapshot(self) -> EngineSnapshot:
        with self._lock:
            t_now = now()
            transfers = self._sched.transfers
            # Nothing moving and nothing changed: reuse the last snapshot, so an
            # idle queue of 10,000 transfers costs one cheap pass per tick.
            stamp = (self._structure, sum(t.version for t in transfers), self._sched.limit,
                     self.limiter.rate)
            idle = not any(map(_moving, transfers))
            self._busy_at_snapshot = not idle
            last = self._last_snap
            if idle and last is not None and stamp == self._last_stamp:
                return replace(last, time=t_now)
            snaps = tuple(t.snapshot(t_now) for t in transfers)
            concurrency = self._sched.limit
        snap = EngineSnapshot(
            transfers=snaps, speed=sum(s.speed for s in snaps),
            active=sum(1 for s in snaps if s.state in ACTIVE_STATES),
            queued=sum(1 for s in snaps if s.state == QUEUED),
            failed=sum(1 for s in snaps if s.state == FAILED),
            concurrency=concurrency, bandwidth_limit=self.limiter.rate, time=t_now)
        self._last_snap, self._last_stamp = snap, stamp
        return snap

    def _tick(self) -> None:
        snap = self.current_snapshot()
        if self._adaptive is not None:
            n = self._adaptive.update(snap.time, inputs_from(snap, self.limiter.moved))
            if n != self._sched.limit:
                self._set_limit(n)
        if snap.transfers is not self._last_transfers:  # a reused snapshot changed nothing
            self._last_transfers = snap.transfers
            key = tuple((s.id, s.state, s.done_bytes, s.detail, s.parts_done)
                        for s in snap.transfers)
            if key != self._last_emitted or snap.speed:
                self._last_emitted = key
                self.snapshot.emit(snap)
        busy = self._busy_at_snapshot  # busy() as of this snapshot, without a second pass
        if self._was_busy and not busy:
            self.idle.emit()
        self._was_busy = busy


def _moving(t: Transfer) -> bool:
    """Whether a transfer has work queued or running (the engine is busy)."""
    return bool(t.inflight or t.cancelling or t.aborting or t.state in ACTIVE_STATES
                or t.state == QUEUED)


_OPS = {PREPARE: "s3:PutObject (CreateMultipartUpload)", PART: "s3:PutObject (UploadPart)",
        PUT: "s3:PutObject", COMPLETE: "s3:PutObject (CompleteMultipartUpload)",
        ABORT: "s3:AbortMultipartUpload"}
