"""The queue view repaints for what it shows (ui/queue/visible_rows.py): changes
and new rows below the fold cost no paint, while what is on screen is
repainted and the scroll bar follows. Counted in paint events, not timed."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect

from mpugui.core.units import MiB
from mpugui.ui.queue.queue_model import QueueModel
from tests.ui.test_ui_models import Feed, queue_view, transfer, transfers


class Paints(QObject):
    """The viewport's paint events and the area each repainted."""

    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())
        return False


def shown(qtbot, n: int = 2000):
    model, _proxy, view = queue_view(qtbot)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    feed = Feed()
    rows = transfers(n)
    model.update(feed.set_rows(rows))
    paints = Paints()
    view.viewport().installEventFilter(paints)
    settle(qtbot, paints)
    return model, view, feed, rows, paints


def settle(qtbot, paints: Paints) -> None:
    """Let pending layouts and paints happen, then forget them."""
    for _ in range(3):
        qtbot.wait(20)
    paints.rects.clear()


def after(qtbot, paints: Paints) -> list[QRect]:
    for _ in range(3):
        qtbot.wait(20)
    return list(paints.rects)


def test_changes_below_the_fold_cost_no_paint_and_visible_ones_repaint_their_rows(
        qtbot) -> None:
    model, view, feed, rows, paints = shown(qtbot)
    last = view.rowAt(view.viewport().height() - 1)
    assert 5 < last < 100
    for i in (500, 900, 1500):  # far below what is shown
        rows[i] = transfer(i, "uploading", done=MiB, speed=1e6)
    model.update(feed.set_rows(rows))
    assert after(qtbot, paints) == []

    rows[2] = transfer(2, "uploading", done=MiB, speed=1e6)
    rows[1900] = transfer(1900, "uploading", done=MiB, speed=1e6)  # one range over both
    model.update(feed.set_rows(rows))
    rects = after(qtbot, paints)
    assert rects, "a visible row changed: it is repainted"
    top = view.rowViewportPosition(2)
    assert all(r.top() >= top and r.bottom() <= view.viewport().height() for r in rects)
    assert not any(r.top() == 0 and r.height() >= view.viewport().height() for r in rects)


def test_rows_added_below_the_fold_move_the_scroll_bar_without_a_repaint(qtbot) -> None:
    model, view, feed, _rows, paints = shown(qtbot)
    bar = view.verticalScrollBar()
    before = bar.maximum()
    model.update(feed.tick(transfers(3000, start=2000)))
    assert after(qtbot, paints) == []
    assert model.rowCount() == 5000 and bar.maximum() > before

    grown = bar.maximum()
    model.update(feed.tick(removed=range(4000, 5000)))  # and gone again, below the fold
    assert after(qtbot, paints) == []
    assert model.rowCount() == 4000 and before < bar.maximum() < grown


def test_rows_that_change_what_is_shown_repaint(qtbot) -> None:
    model, view, feed, _rows, paints = shown(qtbot)
    model.update(feed.tick(removed=[0, 1]))  # the top rows go: everything shown moves up
    assert after(qtbot, paints)
    assert view.model().index(0, 0).data() == "file-00002.bin"

    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())  # at the end
    settle(qtbot, paints)
    model.update(feed.tick(removed=[1999]))  # a row on screen goes
    assert after(qtbot, paints)


def test_an_empty_or_short_queue_shows_new_rows(qtbot) -> None:
    model, _proxy, view = queue_view(qtbot)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    paints = Paints()
    view.viewport().installEventFilter(paints)
    settle(qtbot, paints)
    feed = Feed()
    model.update(feed.tick(transfers(3)))  # the rows end above the bottom: shown at once
    assert after(qtbot, paints)
    assert isinstance(model, QueueModel) and view.model().rowCount() == 3
