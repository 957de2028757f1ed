"""The leak guard (tests/leaks.py) fails what leaks and passes what cleans up:
deliberately leaking tests run in a pytest subprocess (pytester) with only
the guard loaded. Each leak is released at the subprocess's exit (atexit), so
the subprocess ends."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CASES = '''
import atexit
import threading

from PySide6.QtCore import QObject, QThread, QTimer

from mpugui.engine.tasks import TaskRunner

release = threading.Event()
kept = []  # what a leaking test keeps alive past its end


@atexit.register
def _release():
    release.set()
    for th in kept:
        if isinstance(th, QThread):
            th.wait()  # a QThread destroyed while it runs aborts


class Blocked(QThread):
    def run(self):
        release.wait(60)


def test_thread_left_running():
    threading.Thread(target=release.wait, args=(60,), name="leaky-thread",
                     daemon=True).start()


def test_qthread_left_running():
    th = Blocked()
    th.setObjectName("leaky-qthread")
    kept.append(th)
    th.start()


def test_pool_task_left_running():
    runner = TaskRunner(1)
    kept.append(runner)
    runner.run(lambda: release.wait(60))


def test_timer_left_active(qtbot):
    owner = QObject()
    timer = QTimer(owner)
    timer.setObjectName("leaky-timer")
    kept.append(owner)
    timer.start(1000)


def test_cleaned_up(qtbot):
    done = threading.Event()
    th = threading.Thread(target=done.wait, args=(60,))
    th.start()
    runner = TaskRunner(1)
    runner.run(lambda: None)
    timer = QTimer()
    timer.start(1000)
    done.set()
    th.join()
    assert runner.shutdown()
    timer.stop()


@pytest.mark.leaves_threads("this test's own reason")
def test_opted_out():
    threading.Thread(target=release.wait, args=(60,), daemon=True).start()
'''


@pytest.fixture
def run_cases(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("MPUGUI_LEAK_GRACE", "0.5")
    pytester.makeini(textwrap.dedent("""
        [pytest]
        qt_api = pyside6
        """))
    pytester.makeconftest('pytest_plugins = ["tests.leaks"]\n')
    pytester.makepyfile(test_cases="import pytest\n" + CASES)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rE", timeout=240)


def test_guard_fails_each_leak_and_passes_clean_tests(run_cases: pytest.RunResult) -> None:
    run_cases.assert_outcomes(passed=6, errors=4)
    out = run_cases.stdout.str()
    for name, left in [("test_thread_left_running", "thread 'leaky-thread'"),
                       ("test_qthread_left_running", "QThread 'leaky-qthread'"),
                       ("test_pool_task_left_running", "1 QThreadPool task(s)"),
                       ("test_timer_left_active", "active QTimer 'leaky-timer'")]:
        assert f"ERROR at teardown of {name}" in out
        assert left in out, (name, out)
