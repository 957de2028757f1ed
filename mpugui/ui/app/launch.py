"""Starting the desktop app: `mpugui`, `mpugui FILE...`, `mpugui --sandbox`.

`start_session()` builds everything the window needs (journal, engine,
background task runner, message bridge, optional sandbox) and is shared by
`run_gui`, the screenshot script and the tests. `run_gui` first makes sure
this is the only window on the state directory (see single_instance): a
second `mpugui FILE...` hands its files to the running window and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from mpugui.core import gc_policy
from mpugui.core.accounts import AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.hard_exit import exit_now
from mpugui.core.journal import owner as owner_lock
from mpugui.core.journal.store import Journal
from mpugui.core.logsetup import setup_logging
from mpugui.core.paths import journal_path, state_dir
from mpugui.core.s3.endpoint import ClientFactory, warm_up
from mpugui.core.transfer.feeder import Feeder, resume_walks
from mpugui.engine.command_run import CommandRun
from mpugui.engine.engine import EngineSettings, TransferEngine
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.app.display import platform_guard
from mpugui.ui.app.main_window import MainWindow
from mpugui.ui.app.single_instance import Channel, InstanceServer, forward
from mpugui.ui.common import icons
from mpugui.ui.common import settings as cfg
from mpugui.ui.common.messages import (
    BridgeHandler,
    MessageBridge,
    install_excepthooks,
    uninstall_excepthooks,
    user_error,
)

log = logging.getLogger("mpugui.ui")

RESTORE_PATIENCE = 0.5  # seconds quitting waits for the journal read of the start


@dataclass
class Session:
    window: MainWindow
    engine: TransferEngine
    runner: TaskRunner
    journal: Journal
    bridge: MessageBridge
    sandbox: Any = None
    handlers: list[logging.Handler] = field(default_factory=list)
    restoring: threading.Thread | None = None  # reading the journal at start
    walks: list[Feeder] = field(default_factory=list)  # folders resumed at start
    owner: owner_lock.Owner | None = None  # run_gui's hold on the state directory
    instance: InstanceServer | None = None  # where a second `mpugui FILE` reaches us

    stopped_cleanly: bool = True  # False: threads were left inside requests at close
    closed: bool = False  # close() has begun: nothing new is opened (a sandbox's home goes)

    def close(self) -> None:
        """Close the window (which halts every walk, then stops the engine and
        the runner within its deadline), then the journal, the sandbox server
        and the log handlers. The order matters: no walk or worker may write to
        a closed journal; what they did not journal is done at the next start."""
        self.closed = True
        for feeder in self.walks:
            feeder.stop()
        if self.restoring is not None:
            self.restoring.join(RESTORE_PATIENCE)  # daemon: a slow disk does not hold the quit
        self.window.close()
        self.window.shutdown()
        self.stopped_cleanly = self.window.stopped_cleanly
        self.journal.close()
        if self.sandbox is not None:
            self.sandbox.stop()
        root = logging.getLogger("mpugui")
        for h in self.handlers:
            root.removeHandler(h)
            h.close()
        uninstall_excepthooks()
        if self.instance is not None:
            self.instance.close()
        if self.owner is not None:  # last: the journal is closed
            self.owner.release()


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="mpugui", description="Upload files to S3 with multipart uploads you can see, "
        "pause and resume.")
    parser.add_argument("--sandbox", action="store_true",
                        help="start a local test S3 server (moto) and use it; no AWS account "
                             "needed")
    parser.add_argument("files", nargs="*", help="files or folders to offer for upload")
    return parser.parse_known_args(argv)


def _log_handlers(bridge: MessageBridge) -> list[logging.Handler]:
    """The log file (shared set-up with the CLI) plus the bridge, which feeds
    the log dock."""
    try:
        setup_logging()
    except OSError:
        pass  # no log file; the log dock still works
    handler = BridgeHandler(bridge)
    logging.getLogger("mpugui").addHandler(handler)
    return [handler]


def start_session(sandbox: bool = False, engine_settings: EngineSettings | None = None) -> Session:
    """Everything the window needs; the caller owns the QApplication."""
    box = None
    if sandbox:
        from mpugui.core.sandbox import prepare_sandbox

        # At once, before the journal (it may choose MPUGUI_HOME); its server
        # starts behind the window (below), which says so meanwhile.
        box = prepare_sandbox()
    bridge = MessageBridge()
    handlers = _log_handlers(bridge)
    install_excepthooks(bridge)
    settings = cfg.open_settings()
    if box is not None:
        _prefer_sandbox(settings, box)
    journal = Journal(journal_path())
    if box is not None:
        from mpugui.core.sandbox import rebind

        rebind(journal, box)  # before the restore: the old sandbox's uploads are gone
    # Parse botocore's S3 model now, while the window is not yet shown: done
    # at the first upload it holds the GIL long enough to freeze the window.
    warm_up()
    engine_settings = engine_settings or EngineSettings(put_sender_process=False)
    clients = ClientFactory(engine_settings.concurrency + 4)
    engine = TransferEngine(journal, clients, engine_settings)
    bridge.connect_engine(engine)
    # S3 calls of the window (listing, testing) get their own pool and client
    # connections, so they never wait behind part uploads.
    runner = TaskRunner(4)
    window = MainWindow(engine, journal, AccountStore(), runner, ClientFactory(8), bridge,
                        settings, sandbox=box)
    session = Session(window, engine, runner, journal, bridge, box, handlers)
    if box is not None:
        # Once the event loop runs: the window is shown and painted first,
        # before moto's import competes with it for the GIL.
        QTimer.singleShot(100, box.start_in_background)
    # The journal is read on a thread of its own: a window with 100,000
    # transfers shows at once and its rows arrive over the next ticks.
    def restore() -> None:
        session.restoring = threading.Thread(
            target=_restore, args=(session, cfg.get(settings, cfg.AUTO_RESUME)),
            name="mpugui-restore", daemon=True)
        session.restoring.start()

    if window.banner is not None:  # sandbox transfers resume against its server: once it runs
        window.banner.ready.connect(restore)
    else:
        restore()
    return session


def _restore(session: Session, auto_resume: bool) -> None:
    try:
        restored = session.engine.restore(auto_resume=auto_resume)
        if restored:
            log.info("Restored %d transfer(s) from the journal", len(restored))
        for feeder in resume_walks(session.engine, session.journal,
                                   session.engine.clients.client, paused=not auto_resume):
            session.walks.append(feeder)
            session.window.adder.track(feeder)  # halted before the journal closes
    except Exception:  # the window stays usable; the log says what failed
        log.exception("Reading the journal failed")


def _prefer_sandbox(settings: QSettings, box: Any) -> None:
    """Open the destination dialog on the sandbox account and bucket (the
    keys the destination dialog remembers its last choice under)."""
    settings.setValue("destinations/last_account", box.account.name)
    group = "destinations/" + quote(box.account.name, safe="")
    if not settings.value(f"{group}/bucket"):
        settings.setValue(f"{group}/bucket", box.bucket)
    settings.sync()


def make_application(argv: list[str]) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        with platform_guard():  # no display: a sentence and exit 2, not SIGABRT
            app = QApplication([sys.argv[0] if sys.argv else "mpugui", *argv])
    if not isinstance(app, QApplication):
        raise RuntimeError("a QCoreApplication exists: windows need a QApplication")
    app.setApplicationName("mpugui")
    app.setOrganizationName("mpugui")
    app.setDesktopFileName("mpugui")
    app.setWindowIcon(icons.app_icon())
    return app


def _claim(files: list[str]) -> tuple[owner_lock.Owner, InstanceServer] | int:
    """Hand `files` to the window that owns the state directory (then 0), or
    own it: the owner lock, then the local server. 1 when a CLI command owns
    it (said in a message box): never a second engine on the same journal."""
    home = state_dir()
    if forward(home, files):
        return 0
    deadline = time.monotonic() + 5
    while True:
        try:
            owner = owner_lock.acquire(owner_lock.WINDOW)
            break
        except owner_lock.JournalBusy as exc:
            if exc.holder is not None and exc.holder.is_window and time.monotonic() < deadline:
                # a window still starting: it listens right after taking the lock
                if forward(home, files, timeout_ms=1000):
                    return 0
                time.sleep(0.1)
                continue
            log.warning("Not opening the window: %s", exc)
            QMessageBox.critical(None, "mpugui", str(exc))
            return 1
    server = InstanceServer(home)
    try:
        server.listen()  # while we own the lock: a socket left here is a crashed window's
    except MpuguiError as exc:
        owner.release()
        QMessageBox.critical(None, "mpugui", str(exc))
        return 1
    return owner, server


def _to_running_sandbox(files: list[str]) -> bool:
    """`mpugui --sandbox [FILE...]` while a sandbox window runs (each has a
    temporary home of its own): hand the files to it, as a second `mpugui
    FILE` does, rather than open a second sandbox."""
    from mpugui.core.sandbox import running_homes

    return any(forward(home, files) for home in running_homes())


def _offer(session: Session, files: list[str]) -> None:
    """Files from a second `mpugui FILE...`: raise the window, ask where they go."""
    log.info("Offered %d file(s) from another mpugui", len(files))
    if session.closed:  # quitting meanwhile: a dialog now would write into a sandbox's
        return          # removed home (its settings file), leaving it behind
    window = session.window
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
    if files:
        window.offer_paths(files)


def run_command(session: Session, request: dict[str, Any], channel: Channel) -> None:
    """A CLI command forwarded by `mpugui upload|resume|cancel` (see
    mpugui.cli.remote): run in this engine once the journal is read."""
    if session.restoring is not None and session.restoring.is_alive():
        QTimer.singleShot(50, lambda: run_command(session, request, channel))
        return
    if not channel.open:
        return
    run = CommandRun(session.engine, session.journal, request, channel.send, parent=channel,
                     walks=session.walks)

    def stopped() -> None:
        run.stop()
        if not channel.open:  # the CLI is gone: nobody to tell the end to
            run.abandon()

    channel.stopped.connect(stopped)
    log.info("Running `mpugui %s` from the command line", run.command)
    run.start()
    for feeder in run.feeders:  # quitting halts its walk before the journal closes
        session.window.adder.track(feeder)


def serve(session: Session, claim: tuple[owner_lock.Owner, InstanceServer]) -> None:
    """Own the state directory: files from a second `mpugui FILE` and CLI
    commands reach this session from now on (released by Session.close)."""
    session.owner, session.instance = claim
    session.instance.received.connect(lambda files: _offer(session, files))
    session.instance.command.connect(lambda request, channel:
                                     run_command(session, request, channel))


def run_gui(argv: list[str]) -> int:
    args, qt_args = parse_args(argv)
    app = make_application(qt_args)
    # Before a sandbox starts its server or rewrites accounts.json: the state
    # directory may be a running window's. A sandbox without MPUGUI_HOME makes
    # a fresh one that nobody else can own; it is claimed once it exists.
    claim: tuple[owner_lock.Owner, InstanceServer] | None = None
    if not (args.sandbox and not os.environ.get("MPUGUI_HOME")):
        claimed = _claim(args.files)
        if isinstance(claimed, int):
            return claimed
        claim = claimed
    elif _to_running_sandbox(args.files):
        return 0
    gc_policy.install()  # a queue of 100,000: full collections stay short
    try:
        session = start_session(sandbox=args.sandbox)
        gc_policy.settle()  # before the window shows: set-up's garbage goes, the rest is frozen
    except MpuguiError as exc:
        if claim is not None:
            claim[1].close()
            claim[0].release()
        QMessageBox.critical(None, "mpugui", user_error(exc))
        return 1
    if claim is None:
        claimed = _claim([])
        if isinstance(claimed, int):
            session.close()
            return claimed
        claim = claimed
    serve(session, claim)
    window = session.window
    window.show()
    if args.files:
        QTimer.singleShot(0, lambda: window.offer_paths(args.files))
    app.aboutToQuit.connect(session.close)
    # Ctrl+C or a polite kill quits like closing the window: the engine
    # stops, the journal closes and a sandbox cleans up after itself.
    # (From the event loop, not inside whatever Python code the signal interrupted.)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, app.quit))
    code = app.exec()
    if not session.stopped_cleanly:
        # Workers are still inside requests the network holds: end now rather
        # than wait for them (see core/hard_exit.py).
        exit_now(code)
    return code
