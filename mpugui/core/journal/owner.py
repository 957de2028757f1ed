"""One owner per state directory: an advisory lock on `$MPUGUI_HOME/owner.lock`.

The window and every CLI command that changes transfers (upload, resume,
cancel, uploads abort|cleanup|adopt) hold this lock for as long as they run;
read-only commands never take it. A second owner is refused at once with
`JournalBusy`, whose message names the holder (what it is, its pid, since
when) as recorded in the lock file.

The lock is `fcntl.flock(LOCK_EX | LOCK_NB)` on an open file. The operating
system drops it when the holding process ends, however it ends: a crashed or
SIGKILLed owner leaves no stale lock, so its successor takes the lock over by
construction (the file may still hold the dead owner's JSON; the next owner
simply overwrites it). The file itself is never deleted: deleting a lock file
while another process waits on it would let two processes lock two different
files. flock locks belong to an open file description, so two `Owner`
objects in one process exclude each other as two processes do.

Linux and macOS only: fcntl is imported when a lock is taken, so importing
this module elsewhere does not fail.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from mpugui.core import paths
from mpugui.core.errors import MpuguiError

LOCK_NAME = "owner.lock"
WINDOW = "window"


def lock_path() -> Path:
    return paths.state_dir() / LOCK_NAME


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as the holder wrote it into the lock file."""

    pid: int
    kind: str  # "window", or the CLI command: "upload", "uploads abort", ...
    since: float  # time.time() when the lock was taken

    @property
    def is_window(self) -> bool:
        return self.kind == WINDOW

    def describe(self) -> str:
        """'the window, pid 1234, since 14:02'."""
        what = "the window" if self.is_window else f"`mpugui {self.kind}`"
        started = time.localtime(self.since)
        today = time.localtime()
        fmt = "%H:%M" if started[:3] == today[:3] else "%Y-%m-%d %H:%M"
        return f"{what}, pid {self.pid}, since {time.strftime(fmt, started)}"

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "kind": self.kind, "since": self.since})

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["kind"]), float(data["since"]))
        except (ValueError, TypeError, KeyError):
            return None


class JournalBusy(MpuguiError):
    """Another mpugui owns this state directory; the message names it."""

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


def busy_sentence(holder: Holder | None, kind: str) -> str:
    """The refusal, worded for what `kind` (the one refused) can do about it."""
    who = f"mpugui ({holder.describe()})" if holder else "Another mpugui"
    if kind == WINDOW:
        advice = ("wait for it to finish or stop it with Ctrl-C (its transfers stay "
                  "resumable), then open the window again")
    elif holder is not None and holder.is_window:
        # upload/resume/cancel get here only when the window did not take them
        where = ("use the window's In-progress uploads tab" if kind.startswith("uploads")
                 else "add the files in the window")
        advice = (f"{where}, or quit the window (its transfers stay resumable) and run the "
                  "command again")
    else:
        advice = "wait for it to finish, then run the command again"
    return f"{who} is using this journal; {advice}."


def read_holder(path: Path | None = None) -> Holder | None:
    """The holder recorded in the lock file (possibly a dead one: only a
    failed lock attempt says the lock is really held)."""
    try:
        return Holder.from_json((path or lock_path()).read_text(encoding="utf-8"))
    except OSError:
        return None


class Owner:
    """The lock, held from `acquire()` until `release()` (or the end of a
    `with` block, or the process). Deliberately no __del__: an Owner dropped
    by mistake keeps the lock until the process ends rather than losing it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or lock_path()
        self._fd: int | None = None
        self.holder: Holder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, kind: str) -> Owner:
        """Take the lock for `kind` ("window" or the CLI command); raises
        JournalBusy naming the current holder if another owner has it."""
        import fcntl  # Linux/macOS; lazily, so the module imports anywhere

        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # No O_TRUNC: the file holds the current owner's record until we own it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self._wait_for_record()
            raise JournalBusy(busy_sentence(holder, kind), holder) from None
        except BaseException:
            os.close(fd)
            raise
        holder = Holder(os.getpid(), kind, time.time())
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.to_json().encode("utf-8"), 0)
        except OSError:
            pass  # the lock holds without the record; refusals just say less
        self._fd, self.holder = fd, holder
        return self

    def _wait_for_record(self, patience: float = 0.5) -> Holder | None:
        """The holder may have locked and not yet written its record."""
        deadline = time.monotonic() + patience
        while True:
            holder = read_holder(self.path)
            if holder is not None or time.monotonic() >= deadline:
                return holder
            time.sleep(0.02)

    def release(self) -> None:
        fd, self._fd, self.holder = self._fd, None, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no record of an owner that is gone
        except OSError:
            pass
        os.close(fd)  # closing drops the lock

    def __enter__(self) -> Owner:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def acquire(kind: str, path: Path | None = None) -> Owner:
    """`with acquire("upload"):` ... — raises JournalBusy when another
    mpugui owns the state directory."""
    return Owner(path).acquire(kind)
