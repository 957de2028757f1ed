"""Where the window that owns a state directory listens (its local socket
name) and which protocol its forwarded commands speak: shared by the window
(mpugui.ui.app.single_instance) and the CLI (mpugui.cli.remote)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PROTOCOL = 1  # of forwarded CLI commands; a CLI speaking another one is refused


def server_name(home: Path) -> str:
    """A short name (Unix socket paths are limited to ~100 bytes) per user and
    resolved state directory; Qt puts it in the temporary folder."""
    digest = hashlib.sha256(str(home.resolve()).encode("utf-8")).hexdigest()[:20]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return f"mpugui-{uid}-{digest}"
