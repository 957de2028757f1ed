"""Windows and dialogs fit the screen they open on (issue 14): sized from
the available geometry, a saved geometry restored only when it fits, the
toolbar dropping labels before hiding anything in a narrow window."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QGuiApplication

from mpugui.core.accounts import AccountStore
from mpugui.core.s3.endpoint import ClientFactory
from mpugui.engine.tasks import TaskRunner
from mpugui.ui.common import settings as cfg
from mpugui.ui.common.screen_fit import bounded, fits
from tests.ui import test_ui_main_window as main_window_tests

make_window = main_window_tests.make_window  # the fixture: windows over real engines


def _area() -> QRect:
    return QGuiApplication.primaryScreen().availableGeometry()


def test_bounded_and_fits() -> None:
    small = QRect(0, 0, 683, 384)  # 1366x768 at QT_SCALE_FACTOR=2
    assert bounded(QSize(1180, 760), small) == QSize(628, 353)
    assert bounded(QSize(400, 300), small) == QSize(400, 300)
    assert fits(QRect(10, 10, 600, 300), small)
    assert not fits(QRect(0, 0, 1180, 760), small)


def _window(engine_factory, journal, settings):
    from mpugui.ui.app.main_window import MainWindow
    from mpugui.ui.common.messages import MessageBridge

    return MainWindow(engine_factory(), journal, AccountStore(), TaskRunner(2),
                      ClientFactory(2), MessageBridge(), settings)


def test_main_window_restores_a_saved_geometry_only_where_it_fits(qtbot, engine_factory,
                                                                  journal) -> None:
    area = _area()
    settings = cfg.open_settings()
    first = _window(engine_factory, journal, settings)
    qtbot.addWidget(first)
    first.setMinimumSize(0, 0)
    first.setGeometry(area.x(), area.y(), area.width() * 2, area.height() * 2)  # a bigger screen
    too_big = first.saveGeometry()
    first.setGeometry(area.x() + 20, area.y() + 20, 760, 520)
    fitting = first.saveGeometry()
    first.shutdown()

    settings.setValue(cfg.GEOMETRY, too_big)
    big = _window(engine_factory, journal, settings)
    qtbot.addWidget(big)
    assert fits(big.geometry(), area) and big.width() < area.width() * 2
    big.shutdown()

    settings.setValue(cfg.GEOMETRY, fitting)
    kept = _window(engine_factory, journal, settings)
    qtbot.addWidget(kept)
    assert kept.size() == QSize(760, 520)
    kept.shutdown()


def test_window_and_dialogs_open_within_the_screen(qtbot, engine_factory, journal,
                                                   tmp_path) -> None:
    from mpugui.ui.destination.dialog import DestinationDialog

    settings = cfg.open_settings()
    settings.setValue(cfg.GEOMETRY, QByteArray())  # nothing saved
    area = _area()
    window = _window(engine_factory, journal, settings)
    runner = window.runner
    qtbot.addWidget(window)
    assert fits(window.geometry(), area)
    assert window.minimumWidth() <= area.width() and window.minimumHeight() <= area.height()
    src = tmp_path / "f.bin"
    src.write_bytes(b"x")
    dialog = DestinationDialog(AccountStore(), runner, ClientFactory(2), [str(src)], window)
    qtbot.addWidget(dialog)
    assert dialog.width() <= area.width() and dialog.height() <= area.height()
    assert dialog.minimumWidth() <= area.width() and dialog.minimumHeight() <= area.height()
    dialog.close()
    window.shutdown()


def test_a_narrow_window_drops_toolbar_labels_first(qtbot, make_window) -> None:
    window = make_window()
    window.resize(1600, 700)
    qtbot.waitUntil(lambda: not window.toolbar.compact, timeout=2000)
    window.resize(900, 600)
    qtbot.waitUntil(lambda: window.toolbar.compact, timeout=2000)
    # Labels gone: what the compact toolbar needs is far less than the labelled one.
    window.resize(window.toolbar.sizeHint().width() + 20, 600)
    qtbot.waitUntil(lambda: window.filter_edit.isVisible(), timeout=2000)  # not behind »
    add = window.toolbar.widgetForAction(window.acts["add_files"])
    assert add.toolButtonStyle() != add.toolButtonStyle().ToolButtonIconOnly


def test_queue_columns_fit_a_small_screen(qtbot, monkeypatch) -> None:
    # 1366x768 at QT_SCALE_FACTOR=2: Progress and State stay on screen (the
    # real window showed them behind a horizontal scroll bar), and a state's
    # word is not cut ("U…g").
    from mpugui.ui.queue import queue_view
    from mpugui.ui.queue.queue_columns import COLUMNS, DESTINATION, STATE
    from mpugui.ui.queue.queue_model import QueueModel, QueueProxy

    def shown(area: QRect) -> list[int]:
        monkeypatch.setattr(queue_view, "available_geometry", lambda widget: area)
        model, proxy, view = QueueModel(), QueueProxy(), queue_view.QueueView()
        proxy.setSourceModel(model)
        view.setModel(proxy)
        qtbot.addWidget(view)
        view.setup_columns()
        return [view.horizontalHeader().sectionSize(c) for c in range(len(COLUMNS))]

    small = shown(QRect(0, 0, 683, 384))
    beside = sum(w for c, w in enumerate(small) if c != DESTINATION)
    assert beside <= 0.85 * 683 * 0.92
    words = queue_view.QueueView().fontMetrics().horizontalAdvance("Completing")
    assert small[STATE] >= words
    assert shown(QRect(0, 0, 1366, 768)) != small  # a big screen keeps the roomy widths
