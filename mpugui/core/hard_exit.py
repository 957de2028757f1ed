"""Ending the process while worker threads are still inside requests the
network holds (a CompleteMultipartUpload, a part's answer): quitting has a
deadline, and the journal is closed and crash-safe, so the next start
resumes them as after a SIGKILL. A normal exit would wait for them (or abort
on QThreads still running)."""

from __future__ import annotations

import logging
import os
import sys


def exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()  # the log file gets what was said
    os._exit(code)
