"""The owner lock (mpugui.core.journal.owner): one owner per state directory,
a refusal that names the holder, and a lock the OS drops with its process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpugui.core.journal import owner
from mpugui.core.journal.owner import Holder, JournalBusy, Owner


def test_second_owner_is_refused_with_the_holders_pid_then_release_frees_it() -> None:
    first = Owner().acquire("upload")
    try:
        assert first.held
        with pytest.raises(JournalBusy) as refused:
            Owner().acquire("resume")
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message
        assert message.startswith("mpugui (`mpugui upload`, pid ")
        assert "is using this journal;" in message
        assert refused.value.holder is not None and refused.value.holder.kind == "upload"
    finally:
        first.release()
    assert not first.held
    with owner.acquire("resume") as again:
        assert again.held
        record = json.loads(owner.lock_path().read_text())
        assert record["pid"] == os.getpid() and record["kind"] == "resume"
    # released: the record is gone and the lock is free
    assert owner.read_holder() is None
    Owner().acquire("cancel").release()


def test_the_window_is_named_and_the_advice_fits_who_was_refused() -> None:
    with owner.acquire(owner.WINDOW):
        with pytest.raises(JournalBusy) as cli:
            owner.acquire("resume")
        assert str(cli.value).startswith(f"mpugui (the window, pid {os.getpid()}, since ")
        assert "add the files in the window" in str(cli.value)
    with owner.acquire("upload"):
        with pytest.raises(JournalBusy) as window:
            owner.acquire(owner.WINDOW)
        assert "then open the window again" in str(window.value)


def test_since_is_a_time_of_day_today_and_a_date_before() -> None:
    now = time.time()
    assert Holder(7, "window", now).describe() == \
        f"the window, pid 7, since {time.strftime('%H:%M', time.localtime(now))}"
    old = Holder(7, "uploads abort", now - 3 * 86400).describe()
    assert old.startswith("`mpugui uploads abort`, pid 7, since 20")


def test_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    """The lock dies with its process (SIGKILL included); the stale record it
    left in the file does not block the next owner."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from mpugui.core.journal import owner\n"
         "o = owner.acquire('upload')\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(JournalBusy) as refused:
            owner.acquire("resume")
        assert f"pid {child.pid}" in str(refused.value)
    finally:
        child.kill()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    stale = owner.read_holder()
    assert stale is not None and stale.pid == child.pid  # still recorded, no longer held
    with owner.acquire("resume") as taken:
        assert taken.holder is not None and taken.holder.pid == os.getpid()
