"""The failure policy: what a failed job means (retry the part, wait for
the endpoint, or fail the transfer with its sentence), and outages — the
transfers waiting for an endpoint that does not answer, one probe thread
for all of them (core/transfer/outage.py)."""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from mpugui.core.errors import (
    TLS_AGAIN,
    Interrupted,
    MpuguiError,
    SourceChanged,
    describe,
    error_code,
    is_tls_failure,
    is_transient,
    is_unreachable,
)
from mpugui.core.states import (
    ASSEMBLING,
    FAILED,
    PAUSED,
    QUEUED,
    UPLOADING,
    VERIFYING,
    WAITING,
    PartState,
)
from mpugui.core.transfer import outage
from mpugui.core.transfer.progress import Transfer, now
from mpugui.core.transfer.scheduler import (
    ABORT,
    COMPLETE,
    PART,
    PREPARE,
    PUT,
    Job,
)
from mpugui.core.transfer.snapshot import (
    OutageSnapshot,
)
from mpugui.core.units import format_duration
from mpugui.engine.base import _RUNNING, EngineBase

log = logging.getLogger("mpugui.engine")

SAY_EACH_UP_TO = 20  # failures said one by one in the log; beyond, one sentence
RESUME_SLICE = 1000  # waiting transfers resumed per tick when their endpoint answers
_OPS = {PREPARE: "s3:PutObject (CreateMultipartUpload)", PART: "s3:PutObject (UploadPart)",
        PUT: "s3:PutObject", COMPLETE: "s3:PutObject (CompleteMultipartUpload)",
        ABORT: "s3:AbortMultipartUpload"}


class Failures(EngineBase):
    # -- failures -----------------------------------------------------------------

    def _job_failed(self, job: Job, exc: BaseException) -> None:
        t, part = job.transfer, job.part
        if isinstance(exc, Interrupted) or (t.cancel.is_set() and job.kind in (PART, PUT)):
            with self._lock:
                if part is not None and part.state != PartState.DONE:
                    part.body = None
                    t.mark_part(part, PartState.PENDING)
            return
        retries = getattr(exc, "mpugui_retries", 0)  # botocore's, stopped by the RetryGate
        if isinstance(exc, ClientError):
            retries = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
        sentence = describe(exc, bucket=t.rec.bucket, op=_OPS.get(job.kind, "this operation"),
                            profile=t.rec.endpoint.profile)
        if job.kind == PUT and t.rec.no_overwrite and error_code(exc) == "PreconditionFailed":
            sentence = (f"{t.rec.uri} already exists and the transfer is set not to "
                        "overwrite it.")
        if isinstance(exc, SourceChanged):
            # Say what became of the upload: kept (resumable once the file is
            # back as it was) or never stored (small files check before sending).
            sentence += (" The partial upload is kept on the server: put the file back as it "
                         "was and resume, or start over to upload it as it is now."
                         if t.rec.upload_id else
                         " Nothing was stored; start over to upload it as it is now.")
        tls_again = is_tls_failure(exc) and self._answered_before(t)
        if tls_again:
            sentence = TLS_AGAIN
        transient = is_transient(exc) or tls_again
        # An endpoint that cannot be reached or does not answer (see
        # is_unreachable), or one already known down: wait for it now rather
        # than retry part by part (one probe for all that wait on it). A reset
        # or a 5xx is often one request's bad luck (seen under load with
        # nothing down): part retries first; it waits once they are spent.
        wait = transient and (is_unreachable(exc) or tls_again
                              or self._outages.is_down(t.rec.endpoint))
        log.log(logging.DEBUG if wait else logging.WARNING, "%s of %s failed: %s", job.kind,
                t.rec.uri, sentence, exc_info=not transient and not isinstance(exc, MpuguiError))
        gave_up: list[tuple[Transfer, str]] = []
        with self._lock:
            t.retries += retries
            if part is not None and part.state != PartState.DONE:
                part.body = None
                part.attempts += retries
                part.failures += 1
                part.error = sentence
                if transient and not wait and part.failures <= self.settings.part_retries:
                    t.retries += 1
                    t.mark_part(part, PartState.PENDING, now() + self._backoff(part.failures))
                    if job.kind == PUT:
                        self._sched.offer_at(t, part.not_before)
                    log.info("Part %d of %s will be retried (%d of %d)", part.number,
                             t.rec.uri, part.failures, self.settings.part_retries)
                    return
                if transient:  # sent again once the endpoint answers
                    part.failures = 0
                    t.mark_part(part, PartState.PENDING)
                else:
                    t.mark_part(part, PartState.FAILED)
            if job.kind == COMPLETE and transient and not wait:
                t.complete_failures += 1
                if t.complete_failures <= self.settings.part_retries:
                    t.not_before = now() + self._backoff(t.complete_failures)
                    self._move(t, UPLOADING, only_from=(ASSEMBLING, VERIFYING))
                    return
            if t.cancelling:
                return  # a cancel is under way: its abort (job_done schedules it) ends this
            if t.state == FAILED:
                return  # another part already failed it
            if transient:
                if job.kind == PREPARE and t.rec.upload_id is None:
                    self._maybe_created.add(t.id)  # its Create may have reached the server
                gave_up = self._wait(t, sentence)
                if part is not None and t.state == WAITING:
                    t.retries += 1  # the part will be sent again
        if transient:
            for failed, why in gave_up:
                self.message.emit("error", f"{os.path.basename(failed.rec.source)}: {why}")
            return
        with self._lock:
            if t.state == FAILED:
                return
            t.cancel.set()  # stop the other parts of this transfer
            t.prepared = False
            t.rec.error = sentence  # as journaled; the CLI's --json lines report it
            if not self._move(t, FAILED, sentence, only_from=_RUNNING):
                return  # paused or cancelled meanwhile: that stands
        self.message.emit("error", f"{os.path.basename(t.rec.source)}: {sentence}")

    # -- outages (core/transfer/outage.py; engine lock held unless said) ------------

    def _wait(self, t: Transfer, reason: str, move: bool = True) -> list[tuple[Transfer, str]]:
        """`t` waits for its endpoint to answer, keeping its upload and parts
        (with `move` False its state stays: a cancel waiting to be sent).
        Returns the transfers failed instead when the user's limit is reached."""
        t_now = now()
        key = t.rec.endpoint
        first = not self._outages.is_down(key)
        o = self._outages.wait(key, t.rec.bucket, t.id, t, reason, t_now)
        if self._outages.expired(o, t_now):
            return self._give_up(o, t_now)
        if move and not self._move(t, WAITING, reason, only_from=_RUNNING):
            self._outages.leave(key, t.id)  # paused or cancelled meanwhile: that stands
            return []
        if first:
            log.warning("%s does not answer (%s); transfers wait and resume by themselves",
                        key.label(), reason)
        if self._prober is None and not self._sched.stopping:
            self._prober = threading.Thread(target=self._probe_loop, daemon=True,
                                            name="mpugui-outage-probe")
            self._prober.start()
        self._probe_wake.set()
        return []

    def _give_up(self, o: outage.Outage[Transfer], t_now: float) -> list[tuple[Transfer, str]]:
        waited = t_now - o.since
        sentence = o.reason if not self._outages.max_wait else (
            f"{o.reason} Gave up after waiting {format_duration(waited)} for the endpoint; "
            "the upload is kept: resume it later.")
        failed = []
        for t in self._outages.give_up(o.key):
            why = sentence
            if t.cancelling:  # a cancel that could not be sent
                t.cancelling = False
                why = f"Cancel failed; the upload is still on the server: {sentence}"
            t.rec.error = why
            t.prepared = False
            t.cancel.set()  # its parts still on the wire stop, as with any failure
            if self._move(t, FAILED, why, only_from=(*_RUNNING, PAUSED)):
                failed.append((t, why))
        log.warning("Gave up waiting for %s after %.0f s: %d transfers failed",
                    o.key.label(), waited, len(failed))  # type: ignore[attr-defined]
        return failed

    def _held(self, job: Job) -> bool:
        """Keep a job from a known-down endpoint: its transfer waits instead
        (100,000 queued small files do not each try the dead network)."""
        if job.kind == ABORT:
            return False
        with self._lock:
            held, gave_up = self._hold(job)
        self._say_failed(gave_up)
        return held

    def _hold(self, job: Job) -> tuple[bool, list[tuple[Transfer, str]]]:
        """_held with the lock held (the small-file sender takes jobs in
        batches under one lock): whether it was held, and who gave up."""
        t = job.transfer
        o = self._outages.get(t.rec.endpoint)
        if o is None or not o.down:
            return False, []
        if job.part is not None and job.part.state != PartState.DONE:
            t.mark_part(job.part, PartState.PENDING)
        return True, self._wait(t, o.reason)

    def _say_failed(self, failed: list[tuple[Transfer, str]]) -> None:
        """One message per failed transfer, or one for all when there are many
        (giving up on 100,000 waiting files; each keeps its sentence as its
        state's detail)."""
        if len(failed) > SAY_EACH_UP_TO:
            self.message.emit("error", f"{len(failed):,} transfers failed: {failed[0][1]}")
            return
        for t, why in failed:
            self.message.emit("error", f"{os.path.basename(t.rec.source)}: {why}")

    def _note_answered(self, t: Transfer) -> None:
        """A job of `t` got an answer: its endpoint answered in this run (an
        identity check per job; a folder's transfers share one Endpoint)."""
        ep = t.rec.endpoint
        if ep is not self._last_answered:
            self._answered.add(ep)
            self._last_answered = ep

    def _answered_before(self, t: Transfer) -> bool:
        """Whether `t`'s endpoint answered before: in this run, or it holds an
        upload id (its Create was answered, maybe in an earlier run)."""
        if t.rec.upload_id is None and t.rec.endpoint not in self._answered:
            return False
        self._answered.add(t.rec.endpoint)  # for the probe
        return True

    def _reached(self, t: Transfer) -> None:
        """A job talked to its endpoint without a transient failure (worker)."""
        with self._lock:
            if self._outages.watching:
                self._outages.succeeded(t.rec.endpoint)
                self._probe_wake.set()

    def _unwait(self, t: Transfer) -> None:
        """The endpoint answers: `t` carries on from its finished parts (or
        its cancel is sent, when that was what waited)."""
        if t.cancelling:
            if t.inflight == 0:
                self._sched.abort(t)
            return
        if t.state != WAITING or t.cancel.is_set():
            return
        for part in t.parts:
            part.failures = 0
        t.reset_pending()
        t.complete_failures = 0
        self._move(t, UPLOADING if t.prepared else QUEUED)
        self._sched.offer(t)

    def _probe_loop(self) -> None:
        """The probe thread: sleeps until an outage's probe is due, probes."""
        while True:
            self._probe_wake.clear()
            with self._lock:
                if self._sched.stopping:
                    return
                slept = self._sleep_watch.slept()
                if slept and self._outages.woke(now()):
                    log.warning("Woke from a sleep of %.0f s: probing every endpoint "
                                "that did not answer", slept)
                due = self._outages.take_due(now())
                wakeup = self._outages.next_due()
                if self._outages:  # a sleep stops the monotonic clock: look again soon
                    wakeup = min(math.inf if wakeup is None else wakeup,
                                 now() + outage.WATCH_EVERY)
            for o in due:
                try:
                    self._probe(o)
                except Exception:  # the one prober must outlive a bug in a probe
                    log.exception("Probing %s failed", o.key)
            if not due:
                self._probe_wake.wait(None if wakeup is None else max(0.01, wakeup - now()))

    def _probe(self, o: outage.Outage[Transfer]) -> None:
        """One cheap request (HeadBucket): any answer but a transient one means
        the endpoint is back, also 403 or 404 (the transfers then meet that
        cause themselves and fail with its sentence)."""
        endpoint: Any = o.key
        log.info("Probing %s (%d transfers waiting)", endpoint.label(), len(o.waiting))
        try:
            self.clients.probe_client(endpoint).head_bucket(Bucket=o.bucket)
            answered, reason = True, ""
        except Exception as exc:
            # A failed handshake with an endpoint that answered before is
            # the network's (a login page), not an answer.
            tls_again = is_tls_failure(exc) and endpoint in self._answered
            answered = not is_transient(exc) and not tls_again
            reason = TLS_AGAIN if tls_again else describe(exc, bucket=o.bucket,
                                                          op="s3:ListBucket")
        if self._sched.stopping:
            return  # shut down while the probe was on the wire
        gave_up: list[tuple[Transfer, str]] = []
        resumed: list[Transfer] = []
        with self._lock:
            t_now = now()
            if answered:
                resumed = self._outages.answered(o, t_now)
                self._was_busy = True
                log.warning("%s answers again after %.0f s; %d transfers resume",
                            endpoint.label(), t_now - o.since, len(resumed))
            else:
                self._outages.probe_failed(o, reason, t_now)
                if self._outages.expired(o, t_now):
                    gave_up = self._give_up(o, t_now)
        # A slice per tick: the lock is never held for long, and no tick
        # carries 100,000 state events (each one a signal to the window). The
        # first slice goes at once; only a few hundred can be sent at a time.
        for i in range(0, len(resumed), RESUME_SLICE):
            if i:
                time.sleep(self.settings.tick_ms / 1000)
            with self._lock:
                if self._sched.stopping:
                    return
                for t in resumed[i:i + RESUME_SLICE]:
                    self._unwait(t)
            if i == 0:
                self._threads_wanted.emit()
                self._sched.wake()
        for failed, why in gave_up:
            self.message.emit("error", f"{os.path.basename(failed.rec.source)}: {why}")

    def outages(self) -> list[OutageSnapshot]:
        """The endpoints down now (a few: one per endpoint), for the window."""
        with self._lock:
            return self._outage_snapshots()

    def _outage_snapshots(self) -> list[OutageSnapshot]:
        t_now = now()
        return [OutageSnapshot(o.key.label(), o.reason, len(o.waiting),  # type: ignore[attr-defined]  # EndpointKey
                               o.retry_in(t_now), t_now - o.since, o.probing)
                for o in self._outages.down()]

    @property
    def probes_sent(self) -> int:
        return self._outages.probes

    def _backoff(self, failures: int) -> float:
        base = self.settings.retry_base * (2 ** (failures - 1))
        return min(30.0, base) * random.uniform(0.5, 1.5)
