"""The engine's steps for single-PutObject files, as core/s3/putloop.py runs them.

The loop takes jobs in batches (`take`, on the loop's reader thread while
`done` may run on the loop's own: one lock for every state change of the
batch, then each file is read, checked and signed) and gives results
back in batches (`done`: one lock to finish them all). What the loop cannot
send itself goes through botocore on its fallback threads, with the body
wrapped for the bandwidth limit and progress as multipart parts are.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from mpugui.core.errors import Interrupted, MpuguiError
from mpugui.core.journal.store import Journal
from mpugui.core.s3 import smallput
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.s3.putloop import PutLoop, PutRequest, Result
from mpugui.core.s3.sender import Spec
from mpugui.core.sources import Identity, read_whole
from mpugui.core.states import QUEUED, UPLOADING, PartState
from mpugui.core.transfer import multipart as s3
from mpugui.core.transfer import outage
from mpugui.core.transfer.bandwidth import RateLimiter
from mpugui.core.transfer.body import PartBody
from mpugui.core.transfer.progress import Transfer, now
from mpugui.core.transfer.scheduler import Job, Scheduler
from mpugui.core.transfer.verify import Verdict, put_verdict

log = logging.getLogger("mpugui.engine")


class Taken:
    """A job in the put loop, and the checksum its body was sent with (known
    once the sender process answers, when that process read the file)."""

    __slots__ = ("checksum", "job")

    def __init__(self, job: Job, checksum: str | None = None) -> None:
        self.job, self.checksum = job, checksum


class Engine(Protocol):
    """What these steps use of the TransferEngine (engine.py), which owns
    them: its state transition, failure policy, outages and clients."""

    journal: Journal
    clients: ClientFactory
    limiter: RateLimiter
    _put_sent: int
    _putloop: PutLoop

    @property
    def _lock(self) -> threading.Condition: ...
    @property
    def _sched(self) -> Scheduler: ...
    @property
    def _outages(self) -> outage.Outages[Transfer]: ...

    def _client(self, t: Transfer) -> Any: ...
    def _move(self, t: Transfer, state: str, detail: str = "",
              only_from: Iterable[str] | None = None, **journal: object) -> bool: ...
    def _hold(self, job: Job) -> tuple[bool, list[tuple[Transfer, str]]]: ...
    def _say_failed(self, failed: list[tuple[Transfer, str]]) -> None: ...
    def _job_failed(self, job: Job, exc: BaseException) -> None: ...
    def _finish(self, t: Transfer, etag: str, verdict: Verdict) -> None: ...
    def _note_answered(self, t: Transfer) -> None: ...
    def _reached(self, t: Transfer) -> None: ...
    def _settle(self, t: Transfer) -> None: ...


class SmallFiles:
    """The PutSource of the engine's PutLoop."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._routes = smallput.SmallPut()

    def take(self, n: int) -> list[tuple[Taken, PutRequest | Result]]:
        eng = self._engine
        jobs = eng._sched.take_puts(n)
        if not jobs:
            return []
        out: list[tuple[Taken, PutRequest | Result]] = []
        try:
            self._start(jobs, out)
        except Exception as exc:  # a bug: every job taken still comes back, failed
            log.exception("Taking %d small files failed", len(jobs))
            answered = {id(taken.job) for taken, _item in out}
            out += [(Taken(job), exc) for job in jobs if id(job) not in answered]
        return out

    def _start(self, jobs: list[Job], out: list[tuple[Taken, PutRequest | Result]]) -> None:
        """Move the jobs' transfers to uploading (one lock for the batch), then
        make each one's request; every job's outcome goes into `out`."""
        eng = self._engine
        started = []
        gave_up: list[tuple[Transfer, str]] = []
        with eng._lock:
            t_now = now()
            for job in jobs:
                t, part = job.transfer, job.part
                assert part is not None
                if eng._outages:  # its endpoint known down: it waits, nothing sent
                    held, failed = eng._hold(job)
                    gave_up += failed
                    if held:
                        out.append((Taken(job), Interrupted()))
                        continue
                # (already uploading when this is a retry)
                if eng._move(t, UPLOADING, only_from=(QUEUED, UPLOADING)):
                    part.started, part.error, part.snap = t_now, None, None
                    part.attempts += 1
                    t.changed()
                    started.append(job)
                else:  # paused or cancelled before it started
                    out.append((Taken(job), Interrupted()))
        eng._say_failed(gave_up)
        for job in started:
            try:
                out.append(self._request(job))
            except Exception as exc:  # the file, its route: failed like a send
                out.append((Taken(job), exc))

    def _request(self, job: Job) -> tuple[Taken, PutRequest]:
        """The sender process's spec for the file, or (when that process is
        not there) the file read, checked and signed here."""
        eng = self._engine
        t = job.transfer
        rec = t.rec
        planned = t.identity  # (a new object each time: taken once)
        taken = Taken(job)
        headers: dict[str, str] = {}
        if rec.storage_class:
            headers["x-amz-storage-class"] = rec.storage_class
        if rec.content_type:
            headers["Content-Type"] = rec.content_type
        if rec.no_overwrite:
            headers["If-None-Match"] = "*"
        route = None
        # --no-overwrite asks the server first (HEAD, blocking: a fallback's
        # work), as a store that ignores If-None-Match (s3rver) would replace it.
        if rec.size <= smallput.MAX_SIZE and not eng.limiter.rate and not rec.no_overwrite:
            route = self._routes.route(eng._client(t), rec.endpoint, rec.bucket)
        creds = eng.clients.credentials(rec.endpoint) if route is not None else None

        def give_up(refused: BaseException | None) -> None:
            if refused is not None:
                log.info("Small files to %s go through botocore from now on (%s)",
                         rec.bucket, refused)
                self._routes.give_up(rec.endpoint, rec.bucket)

        if route is not None and creds is not None and eng._putloop.forwarding:
            spec = Spec(route, (creds.access_key, creds.secret_key, creds.token),
                        self._routes.tls(rec.endpoint) if route.scheme == "https" else None,
                        rec.source, rec.size, (planned.size, planned.mtime_ns, planned.sample),
                        rec.sample, t.algo.name, rec.key, headers)

            def received(checksum: str | None, sample: str) -> None:
                taken.checksum = checksum
                self._sampled(t, planned, sample)

            def read_and_fall_back(refused: BaseException | None) -> tuple[str, int]:
                give_up(refused)
                data = self._read(t, planned)
                taken.checksum = t.algo.value(data)
                return self._through_botocore(t, job, data, taken.checksum)

            return taken, PutRequest(route, b"", b"", rec.uri, read_and_fall_back, spec=spec,
                                     received=received)
        data = self._read(t, planned)
        checksum = taken.checksum = t.algo.value(data)
        header = t.algo.header(checksum)
        if header is not None:
            headers[header[0]] = header[1]

        def fallback(refused: BaseException | None) -> tuple[str, int]:
            give_up(refused)
            return self._through_botocore(t, job, data, checksum)

        if route is None or creds is None:
            return taken, PutRequest(None, b"", b"", rec.uri, fallback)
        payload = hashlib.sha256(data).hexdigest() if route.sign_payload else None
        url, head = self._routes.request(route, creds, rec.key, rec.size, headers, payload)
        context = self._routes.ssl_context(rec.endpoint) if route.scheme == "https" else None
        return taken, PutRequest(route, head, data, url, fallback, context)

    def _read(self, t: Transfer, planned: Identity) -> bytes:
        rec = t.rec
        data, sample = read_whole(rec.source, rec.size, planned, rec.sample)
        self._sampled(t, planned, sample)
        return data

    def _sampled(self, t: Transfer, planned: Identity, sample: str) -> None:
        """A file planned from the walk's stat has the sample of what was sent
        (its size and time were checked against the record's)."""
        if not planned.sample and sample:
            t.rec.sample = sample
            self._engine.journal.update(t.id, sample=sample)

    def _through_botocore(self, t: Transfer, job: Job, data: bytes,
                          checksum: str | None) -> tuple[str, int]:
        """On a fallback thread: PutObject with botocore, the body counted
        against the bandwidth limit and shown as progress."""
        eng = self._engine
        if t.rec.no_overwrite and s3.head_object(eng._client(t), t.rec.bucket, t.rec.key):
            raise MpuguiError(f"{t.rec.uri} already exists and the transfer is set "
                              "not to overwrite it.")
        body = PartBody(memoryview(data), t.cancel, eng.limiter)
        with eng._lock:
            assert job.part is not None
            job.part.body = body
            t.changed()
        try:
            return s3.put_object(eng._client(t), t.rec, body, checksum, t.algo)
        finally:
            with eng._lock:
                t.wire_bytes += body.total

    def done(self, results: list[tuple[Taken, Result]]) -> None:
        eng = self._engine
        try:
            self._finish_all(results)
        finally:  # whatever happened, the jobs end: their slots and transfers are freed
            jobs = [taken.job for taken, _r in results]
            eng._sched.puts_done(jobs)
            with eng._lock:
                for job in jobs:
                    eng._settle(job.transfer)

    def _finish_all(self, results: list[tuple[Taken, Result]]) -> None:
        eng = self._engine
        failed: list[tuple[Job, BaseException]] = []
        # Verdicts first, without the engine lock: with --checksum md5 and an
        # ETag that is not the MD5 sent, one asks the bucket's encryption
        # (once per bucket, over the network).
        verdicts: dict[int, Verdict] = {}
        for taken, result in results:
            if isinstance(result, BaseException):
                continue
            t = taken.job.transfer
            try:
                verdicts[t.id] = put_verdict(eng._client(t), t.rec, t.algo, result[0],
                                             taken.checksum)
            except MpuguiError as exc:
                failed.append((taken.job, exc))
        with eng._lock:
            for taken, result in results:
                job, checksum = taken.job, taken.checksum
                t, part = job.transfer, job.part
                assert part is not None
                sent_here = part.body is None  # botocore's bodies count themselves
                part.body = None
                if isinstance(result, BaseException):
                    failed.append((job, result))
                    continue
                verdict = verdicts.get(t.id)
                if verdict is None:
                    continue  # failed its verification (above)
                etag, retries = result
                if sent_here:
                    t.wire_bytes += t.rec.size
                    eng._put_sent += t.rec.size
                part.etag, part.checksum = etag, checksum
                part.attempts += retries
                t.retries += retries
                t.mark_part(part, PartState.DONE)
                eng._note_answered(t)
                if eng._outages.watching:  # its endpoint answers: an outage of it is over
                    eng._reached(t)
                eng._finish(t, etag, verdict)
        for job, error in failed:
            try:
                eng._job_failed(job, error)
            except Exception:  # nor does handling its failure stop the others
                log.exception("Handling the failure of a small file failed")

