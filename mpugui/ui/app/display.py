"""Qt's platform plugin failing to start (no display, a system library
missing) ends the process with qFatal: SIGABRT and Qt's raw plugin text.
`platform_guard` turns that into one sentence on stderr and exit code 2.

A message handler is the one place Qt lets us act before its abort, so the
sentence is written there and the process leaves with os._exit (nothing is
owned yet: the window claims the state directory after the QApplication).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLibraryInfo, QtMsgType, qInstallMessageHandler

EXIT_NO_DISPLAY = 2  # the CLI's "bad usage or input": nothing was done

HEADLESS = "`mpugui upload ...` and the other commands work without one (mpugui --help)"


def _platform() -> str:
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    if forced:
        return forced.split(":", 1)[0].split(";", 1)[0]
    if os.environ.get("WAYLAND_DISPLAY") and os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb" if sys.platform.startswith("linux") else ""


def _plugin_load_error(name: str) -> str | None:
    """Why Qt's platform plugin `name` cannot be loaded (the dynamic
    loader's own words, naming the missing library), or None."""
    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    plugin = folder / f"libq{name}.so"
    if not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return str(exc).replace(f"{plugin}: ", "")
    return None


def explain(messages: list[str]) -> str:
    """The one sentence for a platform plugin that did not start."""
    name = _platform()
    if name == "xcb" and not os.environ.get("DISPLAY"):
        return (f"mpugui: no display was found (DISPLAY is not set), so the window cannot "
                f"open; {HEADLESS}.")
    if name in ("xcb", "wayland", ""):
        missing = _plugin_load_error(name or "xcb")
        if missing:
            return (f"mpugui: the window cannot open: Qt's {name or 'xcb'} platform plugin "
                    f"needs a system library that is not installed ({missing}; see the "
                    f"README's Set-up for the list); {HEADLESS}.")
    if any("could not connect to display" in m for m in messages):
        where = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or "?"
        return (f"mpugui: the display {where} could not be reached, so the window cannot "
                f"open; {HEADLESS}.")
    last = messages[-1].splitlines()[0] if messages else "no reason given"
    return f"mpugui: the window cannot open ({last}); {HEADLESS}."


@contextmanager
def platform_guard(exit_: Callable[[int], Any] = os._exit) -> Iterator[None]:
    """Around the QApplication's construction: Qt's messages are held back
    and replayed unless a fatal one comes, which is explained instead."""
    held: list[tuple[Any, Any, str]] = []

    def handler(mode: QtMsgType, context: Any, message: str) -> None:
        if mode == QtMsgType.QtFatalMsg:
            sentence = explain([m for _, _, m in held] + [message])
            sys.stderr.write(sentence + "\n")
            sys.stderr.flush()
            exit_(EXIT_NO_DISPLAY)
            return
        held.append((mode, context, message))

    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)
        for mode, context, message in held:  # nothing fatal: say them as Qt would have
            if previous is not None:
                previous(mode, context, message)
            else:
                sys.stderr.write(message + "\n")
