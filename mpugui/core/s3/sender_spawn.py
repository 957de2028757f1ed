"""Starting and reaping the small-file sender process (core/s3/sender.py
tells what it is): the one place the app spawns a process.

Its imports take ~0.2 s, as long as this process's own; until it says it is
ready this process sends small files itself, more slowly. `start_early`, at
the very start of a command that will upload small files (before this
process imports botocore and Qt), lets both import at once on two cores: the
engine later adopts the spare (`take`) instead of spawning one. Kept to the
standard library, so that the spawn costs nothing before it.
"""

from __future__ import annotations

import atexit
import logging
import os
import stat
import subprocess
import sys

ENV = "MPUGUI_PUT_SENDER"  # "thread": send small files from this process
SMALL = 1024 * 1024  # what it sends (smallput.MAX_SIZE): a file this size or less

Child = subprocess.Popen[bytes]

log = logging.getLogger("mpugui.s3")
_spare: Child | None = None


def wanted(default: bool = True) -> bool:
    """Whether small files go through the child, not this process: ENV
    ("process" or "thread") when set, else `default`."""
    chosen = os.environ.get(ENV, "").lower()
    return default if chosen not in ("process", "thread") else chosen == "process"


def spawn() -> Child:
    """The child, its stdin and stdout pipes ours (OSError if it cannot start)."""
    return subprocess.Popen(
        [sys.executable, "-m", "mpugui.core.s3.sender_child"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        start_new_session=True)  # Ctrl-C is the parent's: it pauses, then ends us


def start_early(paths: list[str]) -> None:
    """Spawn the spare when some of `paths` (a command's arguments) is a
    folder or a small file, and small files are to go through the child.
    Best effort: when it cannot start, the engine tries again, and says so."""
    global _spare
    if _spare is not None or not wanted():
        return
    if not any(_small_or_folder(p) for p in paths if not p.startswith("-")):
        return
    try:
        _spare = spawn()
    except OSError:
        return
    atexit.register(_end_spare)


def take() -> Child | None:
    """The spare, once, while it runs."""
    global _spare
    proc, _spare = _spare, None
    if proc is not None and proc.poll() is not None:  # it died: the engine spawns anew
        _close_pipes(proc)
        return None
    return proc


def reap(proc: Child, timeout: float) -> None:
    """Wait for it to end (its stdin closed), killing it after `timeout`."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:  # (the loop ended before it could close it)
        log.warning("The small-file sender (pid %d) did not end: killed", proc.pid)
        proc.kill()
        proc.wait(1)


def _end_spare() -> None:
    """At exit, a spare nobody took (a command that failed before it sent)."""
    proc = take()
    if proc is not None:
        proc.kill()
        proc.wait()
        _close_pipes(proc)


def _close_pipes(proc: Child) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def _small_or_folder(path: str) -> bool:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_size <= SMALL)
