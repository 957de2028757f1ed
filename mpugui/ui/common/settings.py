"""User settings and window state, kept with QSettings.

With $MPUGUI_HOME set (tests, the sandbox, portable use) the file is
$MPUGUI_HOME/mpugui.ini; otherwise Qt's per-user location. Each setting is
declared once with its type and default. Nothing secret is ever stored here:
secrets live in keyring only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from mpugui.core.paths import private_file, state_dir

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any


AUTO_RESUME = Setting("transfers/auto_resume", bool, False)
BANDWIDTH_LIMIT = Setting("transfers/bandwidth_limit", int, 0)  # bytes/s, 0 = unlimited
# Give up on transfers waiting for the network after this many seconds; 0 waits
# until it is back (the default).
MAX_WAIT = Setting("transfers/max_wait", int, 0)
NOTIFY = Setting("ui/notifications", bool, True)
LOG_VISIBLE = Setting("ui/log_visible", bool, False)
SHOW_PARTS = Setting("ui/show_parts", bool, True)  # the parts pane under the queue
# Ask before quitting while uploads run ("Don't ask again" turns it off).
ASK_BEFORE_QUIT = Setting("ui/ask_before_quit", bool, True)

# Window state: opaque blobs Qt produces and restores.
GEOMETRY = "window/geometry"
WINDOW_STATE = "window/state"
QUEUE_HEADER = "window/queue_header"
PARTS_HEADER = "window/parts_header"
MAIN_SPLITTER = "window/main_splitter"
PART_SPLITTER = "window/part_splitter"


def open_settings() -> QSettings:
    if os.environ.get("MPUGUI_HOME"):
        path = Path(state_dir()) / "mpugui.ini"
        settings = QSettings(str(path), QSettings.Format.IniFormat)
    else:
        settings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                             "mpugui", "mpugui")
    # Created 0600 before Qt first writes it: Qt keeps an existing file's mode.
    private_file(Path(settings.fileName()))
    _migrate(settings)
    return settings


def _migrate(settings: QSettings) -> None:
    version = int(str(settings.value("meta/schema_version", 0) or 0))  # "1" in an ini file
    if version < SCHEMA_VERSION:
        # Version 1 is the first layout; later versions add upgrade steps here.
        settings.setValue("meta/schema_version", SCHEMA_VERSION)


def get(settings: QSettings, setting: Setting) -> Any:
    raw = settings.value(setting.key, setting.default)
    if setting.type is bool:
        if isinstance(raw, str):
            return raw.lower() in ("true", "1", "yes")
        return bool(raw)
    try:
        value = setting.type(raw)
    except (TypeError, ValueError):
        return setting.default
    # Every number here is a rate or a count of seconds: a negative one was
    # edited by hand and would mean nothing.
    return setting.default if setting.type is int and value < 0 else value


def put(settings: QSettings, setting: Setting, value: Any) -> None:
    settings.setValue(setting.key, setting.type(value))


def blob(settings: QSettings, key: str) -> QByteArray | None:
    value = settings.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None
