"""What a command run says: the Reporter turns the engine's snapshots into one
live line on a terminal, a line per finished file in a pipe, or one JSON
object per line with --json; failures go to stderr as sentences."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, TextIO

from mpugui.core.problem_tally import ProblemTally
from mpugui.core.states import ACTIVE_STATES, CANCELLED, DONE, FAILED, WAITING
from mpugui.core.transfer.feeder import Feeder
from mpugui.core.transfer.snapshot import REMOVED
from mpugui.core.transfer.unchanged import skipped_sentence
from mpugui.core.units import format_bytes, format_duration, format_rate


def stdout_closed() -> None:
    """Point stdout at /dev/null once its reader has gone, so neither a later
    write nor the interpreter's final flush raises BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)



class Reporter:
    """What a run says: on a terminal one live line (files, bytes, rate,
    ETA); in a pipe one line per finished file and totals every few seconds;
    with --json one object per line: each state change once, a progress
    line per tick, a summary at the end. Failures and warnings also go to
    stderr as sentences, --json or not. Once stdout's reader has gone
    (`| head`), `closed` is set and nothing more is written there."""

    def __init__(self, stream: TextIO, as_json: bool, engine: Any) -> None:
        self.stream = stream
        self.json = as_json
        self.engine = engine
        self.tty = stream.isatty() and not as_json
        self._last_plain = time.monotonic()
        self._waiting: set[int] = set()  # transfers said to be waiting
        self._down: set[str] = set()  # endpoints said to be down
        self.tally = ProblemTally()
        self.closed = False

    def _write(self, text: str, flush: bool = False) -> None:
        """Results on stdout; a pipe is flushed once per tick (_progress), not
        per line (a folder's 100,000 lines would be 100,000 system calls)."""
        if self.closed:
            return
        try:
            self.stream.write(text)
            if flush:
                self.stream.flush()
        except BrokenPipeError:  # raised inside a Qt slot: it would only be printed
            self.closed = True
            if self.stream is sys.stdout:
                stdout_closed()

    def _emit(self, obj: dict[str, Any], flush: bool = False) -> None:
        self._write(json.dumps(obj) + "\n", flush)

    def _stderr(self, text: str) -> None:
        self._clear()
        print(f"mpugui: {text}", file=sys.stderr, flush=True)

    def line(self, text: str) -> None:
        if self.json:
            self._emit({"event": "message", "text": text}, flush=True)
        else:
            self._clear()
            self._write(text + "\n", flush=True)

    def warn(self, text: str) -> None:
        """A note about the run itself (an interrupt): stderr, and with
        --json a message event as well."""
        if self.json:
            self._emit({"event": "message", "text": text})
        self._stderr(text)

    def problem(self, text: str, cause: str | None = None, path: str = "") -> None:
        """An entry that cannot be uploaded (`cause`: counted by it, and said
        on stderr only for the first few of each; the rest in one sentence
        at the end) or a warning (no cause: always said). --json lists each."""
        said = cause is None or self.tally.add(cause, text, path)
        if self.json:
            self._emit({"event": "problem", "text": text, "cause": cause or "other"})
        if said:
            self._stderr(text)

    def on_message(self, level: str, text: str) -> None:
        # The engine's errors are the failed state events' sentences (said
        # there); its warnings (a cancel that came too late) are said here.
        if level == "warning":
            self.problem(text)

    def on_snapshot(self, snap: Any) -> None:
        for ev in snap.events:
            self._state(ev)
        if not self.json:
            self._outages(snap)
        self._progress(snap)
        self._write("", flush=True)  # once per tick

    def _outages(self, snap: Any) -> None:
        """A line when an endpoint stops answering and one when it is back
        (per endpoint: 100,000 waiting files are two lines, not 200,000)."""
        # (a command run through the window gets snapshots without outages)
        down = {o.endpoint: o for o in getattr(snap, "outages", ())}
        for name, o in down.items():
            if name not in self._down:
                self._clear()
                self._write(f"waiting   {name} does not answer: {o.reason} Retrying by "
                                  f"itself ({o.waiting:,} transfers wait; Ctrl-C pauses).\n")
        if self._down - set(down):
            # Gone from the outages: answered, or given up (--max-wait), which
            # fails its transfers in the same tick.
            gave_up = any(ev.state == FAILED and "Gave up after waiting" in ev.detail
                          for ev in snap.events)
            for name in self._down - set(down):
                self._clear()
                self._write(f"gave up   waiting for {name} (--max-wait).\n" if gave_up
                                  else f"resumed   {name} answers again; the transfers "
                                       "carry on.\n")
        self._down = set(down)

    def _state(self, ev: Any) -> None:
        if ev.state == REMOVED or not self.engine.has(ev.id):
            return
        rec = self.engine.record(ev.id)
        detail = f": {ev.detail}" if ev.detail else ""
        if self.json and ev.state == WAITING:
            self._waiting.add(ev.id)
            self._emit({"event": "waiting", "id": ev.id, "source": rec.source,
                        "destination": rec.uri, "upload_id": rec.upload_id,
                        "reason": ev.detail})
        elif self.json and ev.id in self._waiting:
            self._waiting.discard(ev.id)
            if ev.state != FAILED:
                self._emit({"event": "resumed", "id": ev.id, "source": rec.source,
                            "destination": rec.uri, "upload_id": rec.upload_id})
        if self.json:
            self._emit({
                "event": "state", "id": ev.id, "state": ev.state, "source": rec.source,
                "destination": rec.uri, "upload_id": rec.upload_id,
                "error": ev.detail or None if ev.state == FAILED else None})
        elif ev.state in (DONE, CANCELLED):
            self._clear()
            # A cancel's note (parts a store could not abort) is a warning on stderr.
            note = detail if ev.state != CANCELLED else ""
            self._write(f"{ev.state:<9} {rec.source} → {rec.uri}{note}\n")
        if ev.state == FAILED:
            self._stderr(f"failed {rec.source} → {rec.uri}{detail}")

    def _progress(self, snap: Any) -> None:
        # Files as of now (EngineSnapshot.live): the table's sums lag while
        # thousands of small files finish a second. (Through the window, the
        # window's own counts of this command's files.)
        live = getattr(snap, "live", None)
        done, total = (live.get(DONE, 0), sum(live.values())) if live else (snap.done, snap.total)
        if self.json:
            active = [t for t in snap.changed if t.state in ACTIVE_STATES]
            self._emit({"event": "progress", "files_done": done,
                        "files_total": total, "bytes": snap.done_bytes,
                        "size": snap.total_bytes, "speed": round(snap.speed),
                        "transfers": [{"id": t.id, "bytes": t.done_bytes, "size": t.size,
                                       "parts_done": t.parts_done,
                                       "parts_total": t.parts_total, "speed": round(t.speed)}
                                      for t in active]})
            return
        eta = (snap.total_bytes - snap.done_bytes) / snap.speed if snap.speed else None
        text = (f"{done:,}/{total:,} files  {format_bytes(snap.done_bytes)} / "
                f"{format_bytes(snap.total_bytes)}  {format_rate(snap.speed)}  "
                f"ETA {format_duration(eta)}")
        outages = getattr(snap, "outages", ())
        if outages:
            text += "  " + outages[0].sentence().split(". ")[0]
        if self.tty:
            frac = snap.done_bytes / snap.total_bytes if snap.total_bytes else \
                (done / total if total else 1.0)
            bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
            self._write(f"\r{bar} {frac:6.1%}  {text}\x1b[K")
        elif time.monotonic() - self._last_plain >= 5:
            self._last_plain = time.monotonic()
            self._write(text + "\n")

    def summary(self, snap: Any, feeders: list[Feeder]) -> None:
        for sentence in self.tally.beyond_each():  # one per cause said only in part
            self._stderr(sentence)
        counts = {s: n for s, n in snap.counts.items() if n}
        skipped = sum(f.counts.skipped for f in feeders)
        walked = sum(f.counts.walked for f in feeders)
        notes = [f.note for f in feeders if f.note]
        if self.json:
            self._emit({"event": "summary", "states": counts, "skipped": skipped,
                        "retries": snap.retries, "wire_bytes": snap.wire_bytes})
            for note in notes:
                self._emit({"event": "message", "text": note})
            self._write("", flush=True)
            return
        self._clear()
        for note in notes:
            self._write(note + "\n")
        if skipped:
            self._write(f"{skipped_sentence(skipped, walked)}.\n")
        text = ", ".join(f"{n:,} {s}" for s, n in sorted(counts.items())) or "nothing"
        self._write(f"Transfers: {text}.\n", flush=True)

    def _clear(self) -> None:
        if self.tty:
            self._write("\r\x1b[K")
