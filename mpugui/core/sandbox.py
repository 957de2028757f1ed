"""`mpugui --sandbox`: a local S3 server (moto) in this process, so every
feature can be tried without an AWS account.

It listens on 127.0.0.1 only, on a free port. Unless $MPUGUI_HOME is set, it
uses a fresh temporary state directory, so the sandbox never touches the
user's real journal or accounts. It creates a bucket, leaves two or three
multipart uploads unfinished (orphans for the uploads browser to find), and
saves a "Sandbox (local)" account.

Importing moto takes seconds, so the window does not wait for it:
`prepare_sandbox()` (instant) fixes the port, the home and the account, and
`Sandbox.start_in_background()` starts and seeds the server on a thread;
`ready` is set when it answers (`error` says why it did not).

Its server's data lives in the process: after a crash (or any quit) the
journal may still hold sandbox transfers whose uploads are gone with it.
`rebind` points them at the new sandbox and starts the unfinished ones over,
saying why; `clean_stale_homes` removes the temporary state folders that
crashed sandboxes left in the temporary directory.

Resume within one run: `set_offline(True)` takes the server off the network
(mpugui.core.sandbox_server), so the transfers wait as on a lost link, and
`set_offline(False)` brings it back with its data; the window offers it as
"Simulate network loss" on the sandbox banner.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpugui.core import secrets
from mpugui.core.accounts import KEYS, Account, AccountStore
from mpugui.core.errors import MpuguiError
from mpugui.core.journal.owner import LOCK_NAME
from mpugui.core.journal.store import Journal
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import CANCELLED, DONE, QUEUED
from mpugui.core.units import MiB

log = logging.getLogger("mpugui.sandbox")

ACCOUNT_NAME = "Sandbox (local)"
BUCKET = "sandbox-bucket"
ACCESS_KEY = "sandbox"
SECRET_KEY = "sandbox-secret"
REGION = "us-east-1"
HOME_PREFIX = "mpugui-sandbox-"  # temporary state folders, in the temporary directory
PID_FILE = "sandbox.pid"  # which process made a temporary home
STALE_WITHOUT_PID = 3600  # seconds: a home with no pid file is left alone this long
STARTED_OVER = ("The sandbox's server ended with the mpugui that ran it, and its uploads "
                "with it: this transfer starts over on the new sandbox.")

# (key, number of parts already sent) of the uploads left unfinished
ORPHANS = (("backups/2024-photos.tar", 3), ("video/raw-interview.mov", 2),
           ("datasets/sensor-log.parquet", 1))


@dataclass
class Sandbox:
    endpoint_url: str
    bucket: str
    account: Account
    home: Path
    server: Any = field(repr=False)
    temporary_home: bool = False
    keyring_session_only: bool = False
    orphans: list[tuple[str, str]] = field(default_factory=list)  # (key, upload id)
    port: int = 0
    ready: threading.Event = field(default_factory=threading.Event, repr=False)
    error: str | None = None  # why the server did not start
    _starting: threading.Thread | None = field(default=None, repr=False)
    _stopped: bool = False

    @property
    def endpoint(self) -> Endpoint:
        return self.account.endpoint()

    def start(self, part_size: int = 5 * MiB) -> None:
        """Start the server on the chosen port and seed it (seconds: moto's
        import). Sets `ready`, or `error` with a sentence."""
        try:
            self.server, self.orphans = _serve(self.port, part_size)
            if self._stopped:  # stop() came while starting
                self.server.stop()
            log.info("Sandbox S3 server at %s with bucket %s", self.endpoint_url, self.bucket)
        except MpuguiError as exc:
            self.error = str(exc)
        except Exception as exc:
            log.exception("The sandbox server did not start")
            self.error = f"The sandbox server did not start: {exc}"
        finally:
            self.ready.set()

    def start_in_background(self, part_size: int = 5 * MiB) -> threading.Thread | None:
        if self._stopped:  # the window closed before its server was started
            return None
        self._starting = threading.Thread(target=self.start, args=(part_size,),
                                          name="mpugui-sandbox-start", daemon=True)
        self._starting.start()
        return self._starting

    @property
    def offline(self) -> bool:
        return self.server is not None and not self.server.online

    def set_offline(self, offline: bool) -> None:
        """Simulate a lost network (True) or bring it back (False)."""
        if self.server is None or self._stopped:
            return
        if offline:
            self.server.stop()
            log.info("Sandbox: the network is lost (simulated): %s refuses connections",
                     self.endpoint_url)
        else:
            self.server.start()
            log.info("Sandbox: the network is back (simulated) at %s", self.endpoint_url)

    def stop(self) -> None:
        self._stopped = True
        if self._starting is not None:
            self._starting.join()  # a server half started is stopped there
        try:
            if self.server is not None:
                self.server.stop()
        except Exception:  # the server may already be down
            log.debug("Stopping the sandbox server failed", exc_info=True)
        if self.temporary_home:
            # the account went with the temporary home; its secret goes too
            secrets.delete_secret(self.account.name)
            shutil.rmtree(self.home, ignore_errors=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(part_size: int = 5 * MiB) -> Sandbox:
    """Start the server and seed it, waiting for it; raises MpuguiError when
    moto is missing."""
    box = prepare_sandbox()
    box.start(part_size)
    if box.error:
        box.stop()
        raise MpuguiError(box.error)
    return box


def prepare_sandbox() -> Sandbox:
    """The sandbox's home, port and account, at once; the server is started
    by Sandbox.start (or start_in_background)."""
    import importlib.util

    if importlib.util.find_spec("moto") is None:  # say so now, not seconds later
        raise MpuguiError("The sandbox needs moto. Install it with: "
                          "pip install 'mpugui[sandbox]'")
    clean_stale_homes()
    temporary = False
    if not os.environ.get("MPUGUI_HOME"):
        made = Path(tempfile.mkdtemp(prefix=HOME_PREFIX))
        (made / PID_FILE).write_text(str(os.getpid()), encoding="utf-8")
        os.environ["MPUGUI_HOME"] = str(made)
        temporary = True
    home = Path(os.environ["MPUGUI_HOME"])
    home.mkdir(parents=True, exist_ok=True, mode=0o700)

    port = free_port()  # taken again by the server a moment later
    url = f"http://127.0.0.1:{port}"
    account = Account(name=ACCOUNT_NAME, kind=KEYS, access_key_id=ACCESS_KEY, endpoint_url=url,
                      region=REGION, path_style=True)
    session_only = not secrets.keyring_available()
    try:
        AccountStore().save(account, SECRET_KEY, session_only=session_only)
    except secrets.KeyringUnavailable:
        session_only = True
        AccountStore().save(account, SECRET_KEY, session_only=True)
    return Sandbox(url, BUCKET, account, home, None, temporary, session_only, port=port)


def _serve(port: int, part_size: int) -> tuple[Any, list[tuple[str, str]]]:
    try:
        import moto.server  # noqa: F401 (seconds: imported here, on the starting thread)
    except ImportError as exc:
        raise MpuguiError("The sandbox needs moto. Install it with: "
                          "pip install 'mpugui[sandbox]'") from exc
    import boto3

    from mpugui.core.sandbox_server import SandboxServer

    # one log line per request on the terminal otherwise
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = SandboxServer(port)
    server.start()
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        client.create_bucket(Bucket=BUCKET)
        return server, _seed_orphans(client, part_size)
    except Exception:
        server.stop()
        raise


def _seed_orphans(client: Any, part_size: int) -> list[tuple[str, str]]:
    """Multipart uploads started and never finished, with a few parts each."""
    rng = random.Random(7)
    # moto keeps one in-memory store per process, shared by every server in
    # it: a second sandbox in the same process (tests) finds the first one's
    # uploads. Start from exactly the seeded set.
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=BUCKET):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
    made = []
    for key, parts in ORPHANS:
        upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        for number in range(1, parts + 1):
            client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number,
                               Body=rng.randbytes(part_size))
        made.append((key, upload_id))
    return made


def rebind(journal: Journal, box: Sandbox) -> list[int]:
    """Point every journaled sandbox transfer at `box` (so Retry and Cancel
    reach a server that runs), and start the unfinished ones over: their
    uploads were on an earlier sandbox's server, gone with its process.
    Called before the engine restores the journal; returns the ids started over."""
    started_over = []
    for rec in journal.transfers():
        if rec.endpoint.account != box.account.name:
            continue
        if rec.state in (DONE, CANCELLED):
            if rec.endpoint != box.endpoint:
                journal.update(rec.id, endpoint=box.endpoint)
            continue
        journal.forget_parts(rec.id)
        # queued: it starts at once with auto-resume on, else it waits paused
        journal.update(rec.id, endpoint=box.endpoint, upload_id=None, state=QUEUED,
                       error=STARTED_OVER)
        started_over.append(rec.id)
    journal.flush()
    _rebind_walks(journal, box)
    if started_over:
        log.warning("%d sandbox transfer(s) start over: the sandbox's server ended with the "
                    "mpugui that ran it, and its uploads with it.", len(started_over))
    return started_over


def _rebind_walks(journal: Journal, box: Sandbox) -> None:
    """Folders an earlier sandbox run had not finished walking go on against
    this sandbox (added anew first, so a crash in between loses no walk)."""
    from mpugui.core.transfer.feeder import FeedRequest

    for walk_id, text in journal.walks():
        try:
            request = FeedRequest.from_json(text)
        except (ValueError, TypeError, KeyError):
            continue  # resume_walks drops it, saying so
        if request.endpoint.account != box.account.name or request.endpoint == box.endpoint:
            continue
        request.endpoint = box.endpoint
        journal.add_walk(request.to_json())
        journal.finish_walk(walk_id)


def clean_stale_homes(root: Path | None = None) -> list[Path]:
    """Remove the temporary homes of sandboxes whose process is gone (a crash
    skips Sandbox.stop). A home is kept while its maker runs, while anyone
    holds its owner lock, and, without a pid file, for STALE_WITHOUT_PID."""
    root = root or Path(tempfile.gettempdir())
    removed = []
    for home in root.glob(HOME_PREFIX + "*"):
        try:
            if not home.is_dir() or home.stat().st_uid != os.getuid() or _in_use(home):
                continue
        except OSError:
            continue
        shutil.rmtree(home, ignore_errors=True)
        log.info("Removed %s, left by a sandbox that did not stop", home)
        removed.append(home)
    return removed


def running_homes(root: Path | None = None) -> list[Path]:
    """The temporary homes of this user's sandboxes that run now (their
    maker alive and holding the owner lock): a second `mpugui --sandbox
    FILE` hands its files to one of them instead of opening a second sandbox."""
    root = root or Path(tempfile.gettempdir())
    found = []
    for home in sorted(root.glob(HOME_PREFIX + "*")):
        try:
            if not home.is_dir() or home.stat().st_uid != os.getuid():
                continue
            pid = int((home / PID_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and _alive(pid) and _locked(home / LOCK_NAME):
            found.append(home)
    return found


def _in_use(home: Path) -> bool:
    try:
        pid = int((home / PID_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if time.time() - home.stat().st_mtime < STALE_WITHOUT_PID:
            return True  # maybe still being set up, or not ours to judge
    else:
        if _alive(pid):
            return True
    return _locked(home / LOCK_NAME)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked(path: Path) -> bool:
    """Whether a live process holds the owner lock (see journal.owner)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops our lock too
    return False
