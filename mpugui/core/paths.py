"""Where mpugui keeps its state: $MPUGUI_HOME, or the platform's data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def state_dir() -> Path:
    home = os.environ.get("MPUGUI_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir("mpugui", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def cache_dir() -> Path:
    """What may be thrown away: the platform's cache dir (not the state dir,
    so that every state dir of this user shares it)."""
    return Path(platformdirs.user_cache_dir("mpugui", appauthor=False))


def journal_path() -> Path:
    return state_dir() / "journal.sqlite3"


def private_file(path: Path) -> Path:
    """Create `path` if missing with mode 0600 (it may hold account details)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path
