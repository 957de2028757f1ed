"""Logging for both front ends: detail (tracebacks included) goes to a
rotating file in the state dir; the terminal gets warnings only with -v.
Users see sentences from the UI or CLI, never a traceback."""

from __future__ import annotations

import logging
import logging.handlers
from io import TextIOWrapper
from pathlib import Path

from mpugui.core import redact
from mpugui.core.paths import private_file, state_dir

FORMAT = "%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s"


def log_path() -> Path:
    return state_dir() / "mpugui.log"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates the log (also after each rotation) with mode 0600."""

    def _open(self) -> TextIOWrapper:
        private_file(Path(self.baseFilename))
        return super()._open()


def setup_logging(verbose: bool = False) -> Path:
    redact.install()  # before any handler writes: secrets never reach a log
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mpugui", False):
            root.removeHandler(handler)
            handler.close()
    path = private_file(log_path())
    file_handler = PrivateRotatingFileHandler(
        path, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    stderr.setLevel(logging.INFO if verbose else logging.CRITICAL)
    ours: tuple[logging.Handler, ...] = (file_handler, stderr)
    for handler in ours:
        handler._mpugui = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # botocore's DEBUG is a firehose (and carries signed headers): keep it out.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
