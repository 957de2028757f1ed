"""The engine's worker QThreads and the steps of a big file's jobs on them:
Create (or reconcile a resumed upload with the server), each part, Complete,
and the Abort of a cancel. Small files go through the put loop instead
(small_files.py)."""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import QThread

from mpugui.core.errors import (
    MpuguiError,
    describe,
    is_transient,
)
from mpugui.core.journal.store import (
    PartRecord,
)
from mpugui.core.sources import (
    check_unchanged,
    describe_change,
    identity_of,
)
from mpugui.core.states import (
    ASSEMBLING,
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    PartState,
)
from mpugui.core.transfer import multipart as s3
from mpugui.core.transfer import recovery
from mpugui.core.transfer.body import (
    PartBody,
    PartBuffer,
    read_range,
)
from mpugui.core.transfer.progress import Transfer, now
from mpugui.core.transfer.scheduler import (
    ABORT,
    COMPLETE,
    PART,
    PREPARE,
    Job,
)
from mpugui.core.transfer.verify import Verdict
from mpugui.engine.failures import SAY_EACH_UP_TO, Failures

log = logging.getLogger("mpugui.engine")


class _WorkerThread(QThread):
    """A thread that runs the engine's worker loop; no logic of its own."""

    def __init__(self, engine: Jobs, index: int) -> None:
        super().__init__()
        self.setObjectName(f"mpugui-part-worker-{index}")
        self._engine = engine

    def run(self) -> None:
        self._engine._worker_loop()


class Jobs(Failures):
    # -- workers ----------------------------------------------------------------

    def _ensure_threads(self) -> None:
        # one spare for aborts, which skip the limit (small files have their loop)
        want = self._sched.limit + 1
        while len(self._threads) < want and not self._sched.stopping:
            th = _WorkerThread(self, len(self._threads))
            self._threads.append(th)
            th.start()

    def _worker_loop(self) -> None:
        while True:
            job = self._sched.next_job()
            if job is None:
                return
            buffer = self._buffers.take() if job.kind == PART else PartBuffer()
            try:
                if not (self._outages and self._held(job)):
                    self._run(job, buffer)
                    self._note_answered(job.transfer)
                    # (_abort handles its own failures: its return says nothing)
                    if self._outages.watching and job.kind != ABORT:
                        self._reached(job.transfer)
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
        elif job.kind == PART:
            assert job.part is not None
            self._send_part(job.transfer, job.part, buffer)
        elif job.kind == COMPLETE:
            self._complete(job.transfer)
        elif job.kind == ABORT:
            self._abort(job.transfer)

    def _set_limit(self, n: int) -> None:
        with self._lock:
            self._sched.limit = max(1, int(n))
        self._ensure_threads()
        self._sched.wake()

    # -- job steps (worker threads) ---------------------------------------------------

    def _prepare(self, t: Transfer) -> None:
        """Create the multipart upload (or reconcile a resumed one with the
        server) so that its parts can go."""
        rec = t.rec
        if t.fd is None:
            t.fd = _open(rec.source, t)
        describe_change(rec.source, t.identity, identity_of(t.fd, rec.source,
                                                            like=rec.sample))
        client = self._client(t)
        if rec.upload_id is None:
            if rec.no_overwrite and s3.head_object(client, rec.bucket, rec.key) is not None:
                raise MpuguiError(f"{rec.uri} already exists and the transfer is set "
                                  "not to overwrite it.")
            with self._lock:
                if not self._move(t, UPLOADING, only_from=(QUEUED, UPLOADING)):
                    return  # paused or cancelled meanwhile
            # On disk before Create: after a crash between the server creating
            # the upload and its answer, restore knows to look for it.
            self.journal.flush()
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
            with self._lock:
                rec.upload_id = upload_id
                self.journal.update(t.id, upload_id=upload_id)
                t.changed()
            # On disk before any part leaves: a crash now leaves no orphan the
            # journal does not know.
            self.journal.flush()
            if retried:
                # An earlier attempt may have created an upload whose answer
                # was lost: abort it, or it stays billed, unseen.
                for stray in recovery.stray_uploads(self.journal, rec, client):
                    log.info("Aborting upload %s of %s left by a retried Create",
                             stray, rec.uri)
                    s3.abort_until_empty(client, rec.bucket, rec.key, stray)
        elif self._reconcile(t, client):
            return  # it was completed before a crash; now recorded as done
        with self._lock:
            if not t.cancel.is_set() and self._move(t, UPLOADING,
                                                    only_from=(QUEUED, UPLOADING)):
                t.prepared = True  # the scheduler offers its parts when this job ends

    def _reconcile(self, t: Transfer, client: Any) -> bool:
        """Mark the parts the server already holds (core/transfer/recovery.py
        decides which); True when the upload turns out to be completed already."""
        try:
            kept = recovery.parts_to_keep(self.journal, t, client, say=lambda text: (
                self.message.emit("warning", f"{os.path.basename(t.rec.source)}: {text}")))
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
                    t.mark_part(part, PartState.DONE)
                elif part.state == PartState.DONE:
                    part.etag = part.checksum = None
                    t.mark_part(part, PartState.PENDING)
        log.info("Reconciled %s with the server: %d of %d parts kept", t.rec.uri,
                 t.parts_done(), len(t.parts))
        return False

    def _begin_body(self, t: Transfer, part: Any, data: memoryview) -> PartBody:
        body = PartBody(data, t.cancel, self.limiter)
        with self._lock:
            part.body, part.started, part.error = body, now(), None
            part.attempts += 1
            part.snap = None
            t.changed()
        return body

    def _send_part(self, t: Transfer, part: Any, buffer: PartBuffer) -> None:
        rec = t.rec
        if t.fd is None:
            raise MpuguiError(f"'{rec.source}' is not open.")
        with self._read_lanes:
            data = read_range(t.fd, part.offset, part.size, buffer, rec.source)
            checksum = t.algo.value(data)
        body = self._begin_body(t, part, data)
        retries = 0
        try:
            etag, retries = s3.upload_part(self._client(t), rec, part.number, body,
                                           checksum, t.algo)
        finally:
            with self._lock:
                t.wire_bytes += body.total
        with self._lock:
            self.journal.record_part(t.id, PartRecord(part.number, part.size, etag, checksum))
            part.etag, part.checksum, part.body = etag, checksum, None
            part.attempts += retries
            t.retries += retries
            t.mark_part(part, PartState.DONE)

    def _complete(self, t: Transfer) -> None:
        rec = t.rec
        with self._lock:
            if not self._move(t, ASSEMBLING, only_from=(UPLOADING,)):
                return
        # Every part on disk in the journal before the object is assembled (a
        # journal that cannot be written fails the transfer here, resumable).
        self.journal.flush()
        check_unchanged(rec.source, t.identity)
        parts = t.done_records()
        client = self._client(t)
        etag = s3.complete(client, rec, parts, t.algo)
        with self._lock:
            self._move(t, VERIFYING, final_etag=etag)
        self._finish(t, etag, s3.verify(client, rec, parts, t.algo, etag))

    def _finish(self, t: Transfer, etag: str, verdict: Verdict) -> None:
        verification = str(verdict)
        with self._lock:
            # The object is stored: done wins over a pause or cancel that came
            # while its last request was on the wire.
            cancelled_late = t.cancelling
            t.cancelling = False
            t.rec.final_etag, t.rec.verification = etag, verification
            t.rec.evidence = verdict.tokens
            for part in t.parts:
                if part.state != PartState.DONE:
                    t.mark_part(part, PartState.DONE)
            self._move(t, DONE, final_etag=etag, verification=verification,
                       evidence=verdict.tokens)
            t.close_file()
        # Per small file a line at INFO would cost more than its upload.
        log.log(logging.INFO if t.plan.multipart else logging.DEBUG, "Uploaded %s → %s (%s)",
                t.rec.source, t.rec.uri, verification)
        if cancelled_late:
            self.message.emit("warning", f"{t.rec.uri} was complete before the cancel "
                                         "reached it; it stays uploaded.")
        elif t.plan.multipart:  # per small file this would flood the log view
            self.message.emit("info",
                              f"Uploaded {os.path.basename(t.rec.source)} to {t.rec.uri}.")

    def _abort(self, t: Transfer) -> None:
        rec = t.rec
        try:
            if rec.upload_id:
                s3.abort_until_empty(self._client(t), rec.bucket, rec.key, rec.upload_id)
        except s3.AbortUnsupported as exc:
            # Cancelled here all the same: nothing more can be done with the
            # upload, and the sentence says how to remove its parts.
            log.warning("Abort of %s: %s", rec.uri, exc)
            self._cancelled(t, kept=str(exc))
            return
        except Exception as exc:
            sentence = describe(exc, bucket=rec.bucket, op="s3:AbortMultipartUpload")
            gave_up: list[tuple[Transfer, str]] = []
            with self._lock:
                t.aborting = False
                if is_transient(exc):
                    # The cancel waits for the endpoint like an upload does, and
                    # is sent again when it answers (see _unwait).
                    log.info("Abort of %s waits for %s: %s", rec.uri, rec.endpoint.label(),
                             sentence)
                    t.cancelling = True
                    gave_up = self._wait(t, sentence, move=False)
                    if not gave_up:
                        t.changed()
                        return
                else:
                    log.warning("Abort of %s failed", rec.uri, exc_info=True)
                    # (as journaled: `cancel --json` reports it)
                    t.rec.error = (f"Cancel failed; the upload is still on the server: "
                                   f"{sentence}")
                    self._move(t, FAILED, t.rec.error)
            if gave_up:
                for failed, why in gave_up:
                    self.message.emit("error", f"{os.path.basename(failed.rec.source)}: {why}")
                return
            self.message.emit("error", f"{os.path.basename(rec.source)}: {t.detail}")
            return
        self._cancelled(t)

    def _cancelled(self, t: Transfer, kept: str = "") -> None:
        """`kept`: the server could not abort; says what stays there."""
        self.journal.forget_parts(t.id)
        with self._lock:
            t.aborting = t.cancelling = False
            t.reset_parts()
            self._move(t, CANCELLED, kept)
            t.close_file()
            restart = t.restart_after_abort
        if kept:
            self.message.emit("warning", f"Cancelled {t.rec.uri}. {kept}")
        else:
            self.message.emit("info",
                              f"Cancelled {t.rec.uri}; nothing of it is left on the server.")
        if restart:
            self._restart_wanted.emit(t.id)  # queued when this is a worker thread

    def _cancelled_many(self, ts: list[Transfer]) -> None:
        """Cancel transfers that never reached the server (no upload id, nothing
        in flight) at once: one journal transaction and, past a few, one
        sentence, whatever their number (a forwarded cancel of 100,000 ids)."""
        if len(ts) <= SAY_EACH_UP_TO:
            for t in ts:
                self._cancelled(t)
            return
        self.journal.forget_parts_many([t.id for t in ts])
        restarts = []
        with self._lock:
            for t in ts:
                t.aborting = t.cancelling = False
                t.reset_parts()
                self._move(t, CANCELLED)
                t.close_file()
                if t.restart_after_abort:
                    restarts.append(t.id)
        self.message.emit("info", f"Cancelled {len(ts):,} transfers that had not reached the "
                                  "server yet; nothing of them is left there.")
        for tid in restarts:
            self._restart_wanted.emit(tid)


def _open(path: str, t: Transfer) -> int:
    """Open the source; a file gone or unreadable since it was planned is
    said as such (SourceChanged), not as a bare OS error."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        check_unchanged(path, t.identity)
        raise
