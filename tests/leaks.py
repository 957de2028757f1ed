"""The leak guard (a pytest plugin; tests/conftest.py loads it): a test that
leaves a Python thread, a QThread, a QThreadPool task or an active QTimer
behind once its fixtures are torn down errors at teardown, naming what it
left. Napari's dangling_qthreads/qthread_pool/qtimers checks, in one fixture.

What a test starts is recorded by wrapping QThread.start, QThreadPool.start/
tryStart and QTimer.start for the test's duration (weak references: nothing
is kept alive). Python threads are compared with those alive before the test.
Left alone: threads of socketserver servers (the session's moto server and the
fault proxies answer each connection in a thread that ends when the client's
keep-alive connection closes, which the test does not control) and threads
Python only knows as "dummies" (a QThread's, counted as QThreads instead).

A marker opts a test out, with the reason: @pytest.mark.leaves_threads("why").
"""

from __future__ import annotations

import os
import socketserver
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# A stopped thread may take a moment to end (a worker finishing its request,
# a pool task returning): only a leaking test waits this long (tests/unit/test_leaks.py
# shortens it for its deliberately leaking ones).
GRACE = float(os.environ.get("MPUGUI_LEAK_GRACE", "10"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "leaves_threads(reason): the test may leave threads or timers running "
        "(the leak guard, tests/leaks.py, does not check it)")


def _server_thread(th: threading.Thread) -> bool:
    """A socketserver's, or one a session-scoped server marks as its own
    (it may be started by the first test that asks for it)."""
    if getattr(th, "serves_the_session", False):
        return True
    target = getattr(th, "_target", None)
    return isinstance(getattr(target, "__self__", None), socketserver.BaseServer)


def _recording(cls: type, name: str, into: weakref.WeakSet[Any],
               pick: Callable[[Any, tuple[Any, ...]], Any] = lambda self, args: self) -> Any:
    original = getattr(cls, name)

    def record(self: Any, *args: Any, **kwargs: Any) -> Any:
        into.add(pick(self, args))
        return original(self, *args, **kwargs)

    return record


def _left(before: set[threading.Thread], qthreads: weakref.WeakSet[Any],
          pools: weakref.WeakSet[Any], timers: weakref.WeakSet[Any]) -> list[str]:
    import shiboken6

    left = [f"thread {th.name!r}" for th in threading.enumerate()
            if th not in before and th.is_alive()
            and not isinstance(th, threading._DummyThread)  # type: ignore[attr-defined]
            and not _server_thread(th)]
    left += [f"QThread {t.objectName() or type(t).__name__!r}" for t in list(qthreads)
             if shiboken6.isValid(t) and t.isRunning()]
    left += [f"{p.activeThreadCount()} QThreadPool task(s) of {p.parent()!r}"
             for p in list(pools) if shiboken6.isValid(p) and p.activeThreadCount()]
    left += [f"active QTimer {t.objectName()!r} (every {t.interval()} ms) of "
             f"{type(t.parent()).__name__}" for t in list(timers)
             if shiboken6.isValid(t) and t.isActive()]
    return left


@pytest.fixture(autouse=True)
def no_leftovers(request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Autouse: set up before the test's other function fixtures, so its
    check runs after all of them are torn down."""
    if request.node.get_closest_marker("leaves_threads") is not None:
        yield
        return
    from PySide6.QtCore import QCoreApplication, QEvent, QThread, QThreadPool, QTimer

    qthreads: weakref.WeakSet[Any] = weakref.WeakSet()
    pools: weakref.WeakSet[Any] = weakref.WeakSet()
    timers: weakref.WeakSet[Any] = weakref.WeakSet()
    # monkeypatch was set up before this fixture, so it restores these after
    # the check below has run.
    monkeypatch.setattr(QThread, "start", _recording(QThread, "start", qthreads))
    monkeypatch.setattr(QThreadPool, "start", _recording(QThreadPool, "start", pools))
    monkeypatch.setattr(QThreadPool, "tryStart", _recording(QThreadPool, "tryStart", pools))
    monkeypatch.setattr(QTimer, "start", _recording(QTimer, "start", timers))
    before = set(threading.enumerate())
    yield
    app = QCoreApplication.instance()
    if app is not None:  # widgets closed by qtbot are deleted (their timers with them)
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    deadline = time.monotonic() + GRACE
    left = _left(before, qthreads, pools, timers)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _left(before, qthreads, pools, timers)
    if left:
        pytest.fail("The test left these running after its teardown: " + "; ".join(left),
                    pytrace=False)
