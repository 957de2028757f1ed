"""One CLI command (`upload`, `resume`, `cancel`) run by the engine of the
process that owns the journal (the window), for a CLI process that found
it busy (see mpugui.cli.remote and mpugui.ui.app.single_instance).

The run adds, resumes or cancels its transfers in this engine, so they show
in the window like any other, and reports only on them: per tick the state
changes and a progress digest, at the end the counts and the exit code the
CLI would have returned had it run the command itself. Messages are plain
dicts (one JSON line each on the socket); the CLI renders them with its own
Reporter, so its output is the same as when it owns the journal.

If the CLI goes away (Ctrl-C, killed) before the end, the run's transfers
are paused, as the CLI's own Ctrl-C pauses them.

`resume --all` also takes over the folder walks the window resumed at its
start (paused, when auto-resume is off): their files come in unpaused and
are reported with the rest, as when the CLI resumes the walks itself. The
engine applies resume and cancel a slice at a time (engine.in_slices), so
100,000 ids never hold the window's event loop in one turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from mpugui.core.journal.store import Journal
from mpugui.core.states import ACTIVE_STATES, CANCELLED, DONE, FAILED, PAUSED
from mpugui.core.transfer.feeder import Feeder, FeedRequest
from mpugui.core.transfer.request import UploadRequest
from mpugui.core.transfer.snapshot import REMOVED, EngineSnapshot, TransferSnapshot

log = logging.getLogger("mpugui.engine.command")

# Exit codes, as mpugui.cli defines them (the engine layer cannot import it).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3
POLL_MS = 100  # how often the end is checked when no tick comes (nothing changes)

COMMANDS = ("upload", "resume", "cancel")
_SETTLED = {"upload": (DONE, FAILED, CANCELLED, PAUSED), "resume": (DONE, FAILED, CANCELLED,
            PAUSED), "cancel": (DONE, FAILED, CANCELLED)}

Send = Callable[[dict[str, Any]], None]


class _Recording:
    """The engine as a feeder's queue, remembering which ids it added (from
    the feeder's thread; the run takes them on the engine's)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.new: list[int] = []

    def add_many(self, requests: Sequence[UploadRequest], paused: bool = False
                 ) -> tuple[list[int], list[tuple[UploadRequest, str]]]:
        ids, problems = self.engine.add_many(requests, paused=paused)
        with self.lock:
            self.new.extend(ids)
        return ids, problems

    def take(self) -> list[int]:
        with self.lock:
            out, self.new = self.new, []
        return out


class CommandRun(QObject):
    """Runs one forwarded command; `send` gets each message, `finished`
    carries the exit code once the end message is sent."""

    finished = Signal(int)

    def __init__(self, engine: Any, journal: Journal, request: dict[str, Any], send: Send,
                 parent: QObject | None = None, walks: Sequence[Feeder] = ()) -> None:
        super().__init__(parent)
        self.engine, self.journal, self.request, self.send = engine, journal, request, send
        self.walks = walks  # the window's own walks, resumed at its start
        self.command = str(request.get("command"))
        # ids of this run -> its state as last told to the CLI, and its last snapshot
        self.mine: dict[int, str | None] = {}
        self.snaps: dict[int, TransferSnapshot] = {}
        # Kept as snapshots arrive, so a tick costs what changed (a folder of
        # 100,000 files is an ordinary run): done count, bytes, size, speed.
        self._sums = [0, 0, 0, 0.0]
        self._unsettled: set[int] = set()  # told states that do not end the command
        # --restart: (source, uri) of each file starting over -> ticks since its old
        # transfer was removed (None: not yet); the new one is adopted by its key
        self._restarting: dict[tuple[str, str], int | None] = {}
        self._restart_keys: dict[int, tuple[str, str]] = {}
        self._queue = _Recording(engine)
        self.feeders: list[Feeder] = []
        self._adopted: list[Feeder] = []  # walks of the window this run took over
        self._slicing = 0  # engine.in_slices calls of this run not applied yet
        self.interrupted = False
        self.ended = False
        self._retries = self._wire = 0
        self._timer = QTimer(self)
        self._timer.setObjectName("mpugui-command-run")
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(lambda: self._check(from_timer=True))

    # -- start --------------------------------------------------------------------

    def start(self) -> None:
        # Taken: from now on the CLI knows the window runs it, even if the
        # window goes away before anything else is said (quit mid-walk).
        self.send({"event": "started"})
        self.engine.snapshot.connect(self._on_snapshot)
        try:
            if self.command == "upload":
                self._upload()
            elif self.command in ("resume", "cancel"):
                self._resume_or_cancel()
            else:
                self._error(f"'{self.command}' cannot run through the window.")
                return
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("A forwarded command was not understood: %s", exc)
            self._error("The window did not understand the command.")
            return
        except Exception as exc:  # the journal, say: the CLI gets the sentence
            log.warning("A forwarded command failed to start", exc_info=True)
            self._error(f"The window could not run the command: {exc}")
            return
        for note in self.request.get("notes", []):
            self.send({"event": "line", "text": str(note)})
        self._timer.start()

    def _upload(self) -> None:
        feed = FeedRequest.from_json(self.request["feed"])
        self.feeders = [Feeder(self._queue, self.journal, feed,
                               self.engine.clients.client).start()]

    def _resume_or_cancel(self) -> None:
        wanted = self.request.get("ids")
        restart = bool(self.request.get("restart"))
        if self.command == "resume" and wanted is None and not restart:
            # First, so a batch the walk adds from now on comes through this
            # run, and every earlier one is in the engine's list read below.
            for walk in self.walks:
                if not walk.finished and not walk.error:
                    walk.redirect(self._queue, paused=False)
                    self._adopted.append(walk)
                    self.feeders.append(walk)
        live = self.engine.states()
        unfinished = {i for i, state in live.items() if state not in (DONE, CANCELLED)}
        if wanted is not None:
            wanted = [int(i) for i in wanted]
            unknown = [i for i in wanted if i not in unfinished]
            if unknown:
                self._error(f"No unfinished transfer with id {unknown[0]} is in the journal "
                            "(see: mpugui transfers).")
                return
        ids = sorted(unfinished) if wanted is None else wanted
        self.mine.update({i: live[i] for i in ids})
        settled = _SETTLED[self.command]
        self._unsettled.update(i for i in ids if live[i] not in settled)
        if not ids and not self.feeders:
            self.send({"event": "line", "text": "Nothing to do."})
            self._end(EXIT_OK)
            return
        if not ids:
            return
        if restart:
            for i in ids:
                rec = self.engine.record(i)
                self._restarting[(rec.source, rec.uri)] = None
                self._restart_keys[i] = (rec.source, rec.uri)
        # Slices over the next event-loop turns; until the last is applied the
        # run does not end (a transfer not reached yet still looks settled).
        self._slicing += 1
        if self.command == "cancel":
            self.engine.in_slices("cancel", ids, then=self._sliced)
        elif restart:
            self.engine.in_slices("cancel", ids, then=self._sliced, restart=True)
        else:
            self.engine.in_slices("resume", ids, then=self._sliced)

    def _sliced(self) -> None:
        self._slicing -= 1

    # -- while it runs (engine thread) ------------------------------------------------

    def _adopt_new(self, snap: EngineSnapshot) -> None:
        """Ids a feeder added since the last tick. Their first events may have
        gone out in a tick before we knew them: say their state as of now."""
        named = {ev.id for ev in snap.events}
        new = self._queue.take()
        if new and self.interrupted:
            self.engine.pause(new)  # the walk was stopping when these came in
        for tid in new:
            self.mine[tid] = None
            self._unsettled.add(tid)
            cur = snap.table.get(tid)
            if cur is not None and tid not in named:
                self._keep(tid, cur)
                self._state(tid, cur.state, "", cur)

    def _on_snapshot(self, snap: EngineSnapshot) -> None:
        if self.ended:
            return
        self._adopt_new(snap)
        changed = {s.id: s for s in snap.changed}
        self._age_restarts()
        for ev in snap.events:
            if ev.id not in self.mine and self._restarting and ev.state != REMOVED:
                cur = snap.table.get(ev.id) or changed.get(ev.id)
                if cur is not None and (cur.source, cur.uri) in self._restarting:
                    del self._restarting[(cur.source, cur.uri)]
                    self.mine[ev.id] = None  # the file started over under a new id
                    self._unsettled.add(ev.id)
            if ev.state == REMOVED and ev.id in self._restart_keys:
                key = self._restart_keys.pop(ev.id)
                if self._restarting.get(key, 0) is None:
                    self._restarting[key] = 0
            if ev.id not in self.mine:
                continue
            if ev.state == REMOVED:  # removed from the list in the window, or restarted
                self.mine.pop(ev.id)
                self._unsettled.discard(ev.id)
                old = self._keep(ev.id, None)
                if old is not None:
                    self._retries += old.retries
                    self._wire += old.wire_bytes
                continue
            self._state(ev.id, ev.state, ev.detail, snap.table.get(ev.id) or changed.get(ev.id))
        moving = []
        for tid, s in changed.items():
            if tid in self.mine:
                self._keep(tid, s)
                if self.mine[tid] is None:  # its events went out before we knew it
                    self._state(tid, s.state, s.detail, s)
                if s.state in ACTIVE_STATES:
                    moving.append(s)
        self._progress(moving)
        self._check()

    def _age_restarts(self) -> None:
        """A restart adds the new transfer right after removing the old one; if
        two ticks pass without it, it could not start over (the engine said why)."""
        for key, ticks in list(self._restarting.items()):
            if ticks is not None:
                if ticks >= 2:
                    del self._restarting[key]
                else:
                    self._restarting[key] = ticks + 1

    def _keep(self, tid: int, snap: TransferSnapshot | None) -> TransferSnapshot | None:
        """Record a transfer's latest snapshot (None: it left); returns the old one."""
        old = self.snaps.pop(tid, None) if snap is None else self.snaps.get(tid)
        sums = self._sums
        for sign, x in ((-1, old), (1, snap)):
            if x is not None:
                sums[0] += sign * (x.state == DONE)
                sums[1] += sign * x.done_bytes
                sums[2] += sign * x.size
                sums[3] += sign * x.speed
        if snap is not None:
            self.snaps[tid] = snap
        return old

    def _state(self, tid: int, state: str, detail: str, cur: TransferSnapshot | None) -> None:
        self.mine[tid] = state
        if state in _SETTLED[self.command]:
            self._unsettled.discard(tid)
        else:
            self._unsettled.add(tid)
        self.send({"event": "state", "id": tid, "state": state, "detail": detail,
                   "source": cur.source if cur else "", "destination": cur.uri if cur else "",
                   "upload_id": cur.upload_id if cur else None})

    def _progress(self, moving: list[TransferSnapshot]) -> None:
        done, done_bytes, total_bytes, speed = self._sums
        self.send({"event": "tick", "done": done, "total": len(self.mine),
                   "done_bytes": done_bytes, "total_bytes": total_bytes,
                   "speed": max(0.0, speed),
                   "moving": [{"id": s.id, "state": s.state, "done_bytes": s.done_bytes,
                               "size": s.size, "parts_done": s.parts_done,
                               "parts_total": s.parts_total, "speed": s.speed}
                              for s in moving]})

    def _check(self, from_timer: bool = False) -> None:
        if self.ended:
            return
        for f in self.feeders:
            for p in f.take_problems():
                self.send({"event": "problem", "text": p.text, "cause": p.cause,
                           "path": p.path})
        if from_timer and any(t is not None for t in self._restarting.values()) \
                and self.engine.publish() is None:
            self._age_restarts()  # no tick comes while nothing changes
        if self.ended or not self._settled():
            return
        # From the timer, publish first: a state change not told yet reaches the
        # CLI before the end (the tick calls back here, and ends the run if still so).
        if from_timer and self.engine.publish() is not None:
            return
        self._end(self._code(list(self.mine.values())))

    def _settled(self) -> bool:
        """Every feeder done, every transfer of the run in a state that ends
        the command, as told to the CLI and as it is now."""
        if self._slicing or self._queue.new or self._restarting \
                or not all(f.finished for f in self.feeders):
            return False
        if self._unsettled:
            return False  # the cheap answer, while the run goes on
        settled = _SETTLED[self.command]
        for tid, told in self.mine.items():
            live = self.engine.state_of(tid)
            if live is not None and (live not in settled or told not in settled):
                return False
        return True

    def _code(self, states: list[str | None]) -> int:
        if self.interrupted or PAUSED in states:
            return EXIT_INTERRUPTED  # paused here, or in the window meanwhile
        if FAILED in states:
            return EXIT_FAILED
        if any(f.counts.problems for f in self.feeders):
            return EXIT_USAGE
        return EXIT_OK

    def stop(self) -> None:
        """The CLI went away or was interrupted: pause what this run started
        (walks not finished stay journaled, as after the CLI's own Ctrl-C)."""
        if self.ended:
            return
        self.interrupted = True
        for f in self.feeders:
            if f in self._adopted:  # the window's own walk: it goes on, paused as at start
                f.redirect(self.engine, paused=True)
            else:
                f.stop()  # not joined: files it still adds are paused as they come
        if self.command != "cancel":
            self.engine.in_slices("pause", list(self.mine))

    def abandon(self) -> None:
        """Nobody listens any more: stop following the engine."""
        self._end(EXIT_INTERRUPTED)

    # -- the end ------------------------------------------------------------------------

    def _error(self, text: str) -> None:
        self.send({"event": "error", "text": text})
        self._end(EXIT_USAGE)

    def _end(self, code: int) -> None:
        if self.ended:
            return
        self.ended = True
        self._timer.stop()
        try:
            self.engine.snapshot.disconnect(self._on_snapshot)
        except (RuntimeError, TypeError):
            pass  # never connected: the command was refused before it started
        counts: dict[str, int] = {}
        retries, wire = self._retries, self._wire
        for tid, state in self.mine.items():
            if state is not None and self.engine.has(tid):
                counts[state] = counts.get(state, 0) + 1
            s = self.snaps.get(tid)
            if s is not None:
                retries, wire = retries + s.retries, wire + s.wire_bytes
        self.send({"event": "end", "code": code, "counts": counts, "retries": retries,
                   "wire_bytes": wire,
                   "skipped": sum(f.counts.skipped for f in self.feeders),
                   "walked": sum(f.counts.walked for f in self.feeders),
                   "problems": sum(f.counts.problems for f in self.feeders),
                   "notes": [f.note for f in self.feeders if f.note]})
        self.finished.emit(code)
