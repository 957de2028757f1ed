"""The transfer commands: `mpugui transfers` (the journal's list) and
`upload`, `resume`, `cancel`, which run the same engine as the window under
QCoreApplication until every file is walked and the engine is idle (Ctrl-C
or SIGTERM pause everything, resumable). Qt is imported only when the
engine runs, so `mpugui transfers` and `--help` stay quick."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from typing import Any

from mpugui.cli.endpoint_options import endpoint_from_args
from mpugui.cli.exit_codes import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from mpugui.cli.report import Reporter
from mpugui.core import gc_policy
from mpugui.core.errors import MpuguiError
from mpugui.core.hard_exit import exit_now
from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.core.s3.uri import parse_s3_uri
from mpugui.core.states import CANCELLED, DONE
from mpugui.core.transfer.feeder import Feeder, FeedRequest, resume_walks
from mpugui.core.transfer.verify import parse as parse_evidence
from mpugui.core.units import format_bytes

SHUTDOWN_SECONDS = 3.0  # at most, after Ctrl-C, for workers to leave their requests


def list_transfers(journal: Journal, args: argparse.Namespace) -> int:
    counts = journal.part_counts()
    out = sys.stdout
    records = journal.transfers()
    if not records and not args.json:
        print("No transfers in the journal.")
    for rec in records:
        total = rec.plan().part_count if rec.multipart else 1
        done = total if rec.state == DONE else counts.get(rec.id, 0)
        if args.json:
            out.write(json.dumps({
                "id": rec.id, "source": rec.source, "destination": rec.uri, "size": rec.size,
                "state": rec.state, "parts_done": done, "parts_total": total,
                "upload_id": rec.upload_id, "error": rec.error,
                "verification": rec.verification,
                "evidence": list(parse_evidence(rec.evidence)),
                "endpoint": rec.endpoint.label()}) + "\n")
            continue
        line = (f"{rec.id:>5}  {rec.state:<10} {done:>5}/{total:<5} "
                f"{format_bytes(rec.size):>10}  {rec.source} → {rec.uri}")
        if rec.error:
            line += f"\n       {rec.error}"
        if rec.state == DONE and rec.verification:
            line += f"\n       verified by {rec.verification}"
        out.write(line + "\n")
    out.flush()
    return EXIT_OK


# The engine's Qt-free modules, imported before Qt: once PySide6 is imported,
# it reads the source of every module imported after it (its __feature__
# check), ~15 ms of an upload's start-up for these.
_QT_FREE_FIRST = ("concurrent.futures.thread", "encodings.idna", "mpugui.core.transfer.recovery",
                  "mpugui.engine.settings", "mpugui.engine.small_files")


def run_engine(journal: Journal, args: argparse.Namespace) -> int:
    for name in _QT_FREE_FIRST:
        importlib.import_module(name)
    # Qt is imported here so `mpugui transfers` and `--help` stay quick.
    from PySide6.QtCore import QCoreApplication

    from mpugui.engine.engine import EngineSettings, TransferEngine

    app = QCoreApplication.instance() or QCoreApplication(["mpugui"])
    settings = EngineSettings(bandwidth_limit=getattr(args, "bwlimit", 0) or 0,
                              max_wait=getattr(args, "max_wait", None))
    if getattr(args, "concurrency", None):
        settings.concurrency = args.concurrency
    engine = TransferEngine(journal, ClientFactory(settings.concurrency + 4), settings)
    gc_policy.release()  # start-up's imports and set-up are done: frozen, never scanned
    out = Reporter(sys.stdout, args.json, engine)
    # Plain functions, not the Reporter's bound methods: PySide holds a bound
    # method of a non-QObject by a weak reference to its object, and a queued
    # call still pending when the Reporter is gone crashed the process (seen
    # in the test process, where the event loop runs on after this returns).
    def on_snapshot(snap: Any) -> None:
        out.on_snapshot(snap)

    def on_message(level: str, text: str) -> None:
        out.on_message(level, text)

    # Connected before any transfer starts: the first tick's events reach it.
    engine.snapshot.connect(on_snapshot)
    # Warnings (a store without ListParts or Abort, a cancel that came too
    # late) are problems on stderr; errors already come with their state.
    engine.message.connect(on_message)
    feeders: list[Feeder] = []
    interrupted = False
    try:
        if args.command == "upload":
            feeders = [start_upload(engine, journal, args)]
        else:
            if args.command == "resume" and not args.all and not args.ids:
                raise MpuguiError("Name transfer IDs to resume, or use --all.")
            wanted = None if getattr(args, "all", False) else args.ids
            unfinished = {r.id for r in journal.transfers() if r.state not in (DONE, CANCELLED)}
            if wanted is not None:
                unknown = [i for i in wanted if i not in unfinished]
                if unknown:
                    raise MpuguiError(f"No unfinished transfer with id {unknown[0]} is in "
                                      "the journal (see: mpugui transfers).")
            ids = engine.restore(unfinished if wanted is None else wanted)
            if args.command == "cancel":
                engine.cancel(ids)
            elif args.restart:
                engine.cancel(ids, restart=True)
            else:
                engine.resume(ids)
                if wanted is None:  # folders an interrupted upload had not walked
                    feeders = resume_walks(engine, journal, engine.clients.client)
            if not ids and not feeders:
                out.line("Nothing to do.")
                return EXIT_OK
        interrupted = _wait(app, engine, feeders, out)
    finally:
        # Idle at a normal end, so this returns at once; after Ctrl-C a request
        # the network holds (a Complete, say) does not hold the exit.
        stopped = engine.shutdown(timeout=SHUTDOWN_SECONDS)
        # What the workers said last (queued from their threads) is said too.
        QCoreApplication.sendPostedEvents()
        final = engine.publish(everything=True) or engine.current_snapshot()
        engine.snapshot.disconnect(on_snapshot)
        engine.message.disconnect(on_message)
        journal.close()
    out.summary(final, feeders)
    code = EXIT_OK
    if interrupted:
        code = EXIT_INTERRUPTED
    elif final.failed:
        code = EXIT_FAILED
    elif any(f.counts.problems for f in feeders):
        code = EXIT_USAGE
    if not stopped:
        exit_now(code)
    return code


def start_upload(engine: Any, journal: Journal, args: argparse.Namespace) -> Feeder:
    *sources, dest = args.paths
    if not sources:
        raise MpuguiError("Give at least one file or folder and an s3:// destination.")
    bucket, key = parse_s3_uri(dest)
    endpoint = endpoint_from_args(args)
    skip = args.skip_existing
    if skip is None:  # the default: on for folders, as `aws s3 sync` and rclone do
        skip = any(os.path.isdir(s) for s in sources)
    request = FeedRequest(sources, bucket, key, endpoint, part_size=args.part_size,
                          checksum=args.checksum, storage_class=args.storage_class,
                          no_overwrite=args.no_overwrite, skip_existing=skip)
    return Feeder(engine, journal, request, engine.clients.client).start()


def _wait(app: Any, engine: Any, feeders: list[Feeder], out: Reporter) -> bool:
    """Run the event loop until every feeder has walked its sources and the
    engine is idle; True when interrupted (then everything is paused, and
    walks not finished stay journaled for `mpugui resume --all`)."""
    from PySide6.QtCore import QTimer

    state = {"interrupted": False}

    def stop(signum: int, _frame: object) -> None:
        if not state["interrupted"]:
            state["interrupted"] = True
            out.warn(f"{signal.Signals(signum).name}: pausing; resume with "
                     "`mpugui resume --all`.")
            for f in feeders:
                f.stop()
            for f in feeders:
                # Waits for a batch being journaled (local work): it is then in
                # the engine for pause_all, and nothing later comes unpaused.
                f.redirect(engine, paused=True)
            for f in feeders:
                f.join(5)
            engine.pause_all()
        app.quit()

    def check() -> None:
        if out.closed and not state["interrupted"]:
            stop(signal.SIGPIPE, None)  # nobody reads the output: stop, but paused
            return
        for f in feeders:
            for p in f.take_problems():
                out.problem(p.text, p.cause, p.path)
        if all(f.finished for f in feeders) and not engine.busy():
            app.quit()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    timer = QTimer()
    timer.setObjectName("mpugui-cli-wait")
    timer.setInterval(50)
    timer.timeout.connect(check)
    timer.start()
    engine.idle.connect(check)  # the last file's end, at once rather than at the next poll
    try:
        app.exec()
    finally:
        engine.idle.disconnect(check)
        timer.stop()
        for p in [p for f in feeders for p in f.take_problems()]:
            out.problem(p.text, p.cause, p.path)
        for s, handler in old.items():
            signal.signal(s, handler)
    return state["interrupted"]
