"""The queue and parts models: qtmodeltester, one dataChanged per tick, and
10,000 rows updated within a frame budget. Snapshots for the big cases are
built directly (they are plain named tuples, exactly what the engine
publishes); the small cases come from a real engine against moto."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QObject, Qt, Signal

from mpugui.core.transfer.snapshot import EngineSnapshot, PartSnapshot, TransferSnapshot
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from mpugui.ui.app.log_dock import LogModel
from mpugui.ui.common.messages import MessageBridge
from mpugui.ui.parts.parts_model import PartsModel
from mpugui.ui.queue.queue_columns import ID_ROLE, NAME, PROGRESS, SPEED, STATE, sort_key
from mpugui.ui.queue.queue_model import QueueModel, QueueProxy
from mpugui.ui.queue.queue_view import QueueView
from tests.conftest import make_file
from tests.functional.test_engine_upload import wait_state


def transfer(i: int, state: str = "queued", done: int = 0, speed: float = 0.0,
             parts: int = 4) -> TransferSnapshot:
    size = parts * 5 * MiB
    part_snaps = tuple(PartSnapshot(n, (n - 1) * 5 * MiB, 5 * MiB,
                                    "done" if (n - 1) * 5 * MiB < done else "pending",
                                    5 * MiB if (n - 1) * 5 * MiB < done else 0, 1, 0.0,
                                    None, None, None) for n in range(1, parts + 1))
    return TransferSnapshot(
        id=i, name=f"file-{i:05d}.bin", source=f"/data/file-{i:05d}.bin", bucket="b",
        key=f"k/file-{i:05d}.bin", size=size, done_bytes=done, speed=speed,
        eta=(size - done) / speed if speed else None, state=state, detail="",
        parts_done=sum(1 for p in part_snaps if p.state == "done"), parts_total=parts,
        part_size=5 * MiB, smallest_part=5 * MiB, upload_id=None, checksum="crc32c",
        verification=None, retries=0, wire_bytes=done, parts=part_snaps)


class Feed:
    """Plays the engine's side of the snapshot API: a table of the latest
    snapshot per transfer (queue order) and one tick per call, carrying only
    what changed."""

    def __init__(self) -> None:
        self.table: dict[int, TransferSnapshot] = {}
        self.seq = 0

    def tick(self, changed: Iterable[TransferSnapshot] = (), removed: Iterable[int] = (),
             missed: bool = False) -> EngineSnapshot:
        """The next tick; with `missed`, one tick is skipped (the consumer
        never saw it, so it has to rebuild from the table)."""
        changed, removed = sorted(changed, key=lambda t: t.id), tuple(removed)
        for tid in removed:
            self.table.pop(tid, None)
        for t in changed:
            self.table[t.id] = t
        self.seq += 2 if missed else 1
        return self.current(changed, removed)

    def current(self, changed: Iterable[TransferSnapshot] = (),
                removed: tuple[int, ...] = ()) -> EngineSnapshot:
        """As engine.current_snapshot(): the last seq, no deltas, the table."""
        rows = self.table.values()
        return EngineSnapshot(
            seq=self.seq, changed=tuple(changed), removed=removed, events=(),
            table=self.table, counts=dict(Counter(t.state for t in rows)),
            total_bytes=sum(t.size for t in rows), done_bytes=sum(t.done_bytes for t in rows),
            retries=0, wire_bytes=0, speed=sum(t.speed for t in rows), concurrency=8,
            bandwidth_limit=0, time=time.monotonic())

    def set_rows(self, rows: list[TransferSnapshot]) -> EngineSnapshot:
        """A tick that makes the table exactly `rows` (old-style full list)."""
        keep = {t.id for t in rows}
        changed = [t for t in rows if self.table.get(t.id) is not t]
        return self.tick(changed, [tid for tid in self.table if tid not in keep])


def transfers(n: int, start: int = 0, **kw) -> list[TransferSnapshot]:
    return [transfer(i, **kw) for i in range(start, start + n)]


def shown_ids(model) -> list[int]:
    return [model.index(r, 0).data(ID_ROLE) for r in range(model.rowCount())]


def queue_view(qtbot) -> tuple[QueueModel, QueueProxy, QueueView]:
    """The queue model behind its proxy and view, wired as the main window does."""
    model = QueueModel()
    proxy = QueueProxy()
    proxy.setSourceModel(model)
    view = QueueView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    return model, proxy, view


def test_models_pass_qtmodeltester_with_real_engine_snapshots(
        qtbot, qtmodeltester, engine_factory, bucket, endpoint, tmp_path: Path) -> None:
    engine = engine_factory()
    ids = [engine.add(UploadRequest(str(make_file(tmp_path / f"f{i}.bin", size, seed=i)),
                                    bucket, f"m/f{i}.bin", endpoint))
           for i, size in enumerate((1000, 11 * MiB))]
    for tid in ids:
        assert wait_state(qtbot, engine, tid, {"done", "failed"}) == "done"
    snap = engine.current_snapshot()
    model = QueueModel()
    model.update(snap)
    assert model.rowCount() == 2
    qtmodeltester.check(model)
    proxy = QueueProxy()
    proxy.setSourceModel(model)
    proxy.sort(PROGRESS)
    qtmodeltester.check(proxy)
    parts = PartsModel()
    big = snap.by_id(ids[1])
    parts.set_transfer(big)
    assert parts.rowCount() == 3  # 11 MiB in 5 MiB parts
    qtmodeltester.check(parts)
    assert parts.index(2, 0).data() == "3"
    assert "ETag" in parts.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_log_model_is_a_ring_buffer(qtbot, qtmodeltester) -> None:
    bridge = MessageBridge(capacity=10)
    model = LogModel(capacity=10)
    bridge.posted.connect(model.add)
    for i in range(25):
        bridge.post("info", f"line {i}")
    assert model.rowCount() == 10
    assert model.messages()[0].sentence == "line 15"
    assert len(bridge.history) == 10
    qtmodeltester.check(model)


def test_queue_model_rows_come_and_go_with_selection_kept(qtbot) -> None:
    model, proxy, view = queue_view(qtbot)
    feed = Feed()
    rows = [transfer(i) for i in range(6)]
    model.update(feed.set_rows(rows))
    view.selectRow(proxy.mapFromSource(model.index(model.row_of(4), 0)).row())
    # 1 and 2 removed, 3 changed, 7 added
    rows = [rows[0], rows[3]._replace(state="uploading"), rows[4], rows[5],
            transfer(7)]
    model.update(feed.set_rows(rows))
    assert [model.index(r, 0).data(ID_ROLE) for r in range(model.rowCount())] == [0, 3, 4, 5, 7]
    selected = [i.data(ID_ROLE) for i in view.selectionModel().selectedRows()]
    assert selected == [4]
    assert model.index(model.row_of(3), STATE).data() == "Uploading"


def test_one_datachanged_per_tick_for_a_block_of_active_rows(qtbot) -> None:
    model = QueueModel()
    feed = Feed()
    rows = [transfer(i) for i in range(1000)]
    model.update(feed.set_rows(rows))
    emitted: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): emitted.append((a.row(), b.row())))
    for i in range(100, 116):  # 16 transfers uploading side by side, as the engine runs them
        rows[i] = transfer(i, "uploading", done=MiB, speed=1e6)
    model.update(feed.set_rows(rows))
    assert emitted == [(100, 115)]
    model.update(feed.set_rows(rows))  # nothing moved: no signal at all
    assert emitted == [(100, 115)]


def test_ten_thousand_rows_update_in_one_block_per_tick(qtbot) -> None:
    """Behaviour only: the timing lives in tests/bench/queue_model_bench.py."""
    model, proxy, view = queue_view(qtbot)
    view.setup_columns()
    view.resize(1000, 600)
    view.show()
    feed = Feed()
    rows = [transfer(i, "uploading" if i % 500 == 0 else "queued") for i in range(10_000)]
    model.update(feed.set_rows(rows))
    view.sortByColumn(SPEED, Qt.SortOrder.DescendingOrder)  # re-sorted on every tick
    qtbot.wait(1)
    assert model.rowCount() == 10_000 and proxy.rowCount() == 10_000

    emitted: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): emitted.append((a.row(), b.row())))
    for tick in range(1, 21):
        # 20 transfers move per tick, spread across the list
        for i in range(0, 10_000, 500):
            rows[i] = transfer(i, "uploading", done=tick * MiB // 4, speed=tick * 100_000.0 + i)
        snap = feed.set_rows(rows)
        emitted.clear()
        model.update(snap)
        view.viewport().repaint()
        if tick > 1:
            # sorted by speed, the 20 moving transfers are one block at the top:
            # one dataChanged per tick
            assert emitted == [(0, 19)], emitted
    top = proxy.index(0, 0).data(ID_ROLE)
    assert top == 9500  # fastest first after the re-sort


def test_sorting_keeps_selection_and_follows_changes(qtbot, qtmodeltester) -> None:
    model, proxy, view = queue_view(qtbot)
    feed = Feed()
    rows = [transfer(i, "uploading", speed=float(s)) for i, s in enumerate((5, 1, 9, 3))]
    model.update(feed.set_rows(rows))
    view.sortByColumn(SPEED, Qt.SortOrder.DescendingOrder)
    order = [proxy.index(r, 0).data(ID_ROLE) for r in range(4)]
    assert order == [2, 0, 3, 1]
    view.selectRow(order.index(3))  # select transfer 3
    rows[1] = transfer(1, "uploading", speed=100.0)  # now the fastest
    model.update(feed.set_rows(rows))
    assert [proxy.index(r, 0).data(ID_ROLE) for r in range(4)] == [1, 2, 0, 3]
    assert [i.data(ID_ROLE) for i in view.selectionModel().selectedRows()] == [3]
    rows.append(transfer(7, "uploading", speed=4.0))  # a new row lands in its place
    model.update(feed.set_rows(rows))
    assert [proxy.index(r, 0).data(ID_ROLE) for r in range(5)] == [1, 2, 0, 7, 3]
    proxy.set_filter_text("file-00007")
    assert proxy.rowCount() == 1 and proxy.index(0, 0).data(ID_ROLE) == 7
    proxy.set_filter_text("")
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)


def test_log_dock_filters_clears_and_copies(qtbot) -> None:
    from PySide6.QtGui import QGuiApplication

    from mpugui.ui.app.log_dock import LogDock

    bridge = MessageBridge()
    bridge.post("info", "before the dock")
    dock = LogDock(bridge)
    qtbot.addWidget(dock)
    bridge.post("warning", "a warning", details="where it came from")
    bridge.post("debug", "noise")
    assert [m.sentence for m in dock.model.messages()] == ["before the dock", "a warning"]
    assert dock.model.index(1).data(Qt.ItemDataRole.ToolTipRole) == "where it came from"
    dock.level.setCurrentIndex(2)  # warnings and errors
    assert [m.sentence for m in dock.model.messages()] == ["a warning"]
    dock.copy_lines()
    assert "WARNING a warning" in QGuiApplication.clipboard().text()
    dock.clear_lines()
    dock.level.setCurrentIndex(0)  # what was cleared stays cleared
    assert dock.model.rowCount() == 0
    bridge.post("error", "after clearing")
    assert [m.sentence for m in dock.model.messages()] == ["after clearing"]



def test_views_paint_every_cell_from_the_row_object(qtbot) -> None:
    """data() finds the row once and answers through cell(item, col, role)
    (no GIL-releasing Qt call per role); a painted table asks for every
    visible cell's text and gets the row object's values."""
    from PySide6.QtWidgets import QTableView

    model = PartsModel()
    t = transfer(1, "uploading", done=10 * MiB, speed=3e6, parts=6)
    model.set_transfer(t)
    asked: set[tuple[int, int]] = set()
    cell = model.cell
    model.cell = lambda item, col, role: (
        asked.add((item.number, col)) if role == Qt.ItemDataRole.DisplayRole else None,
        cell(item, col, role))[1]
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(1400, 400)
    view.grab()
    assert {(p.number, c) for p in t.parts for c in range(model.columnCount())} <= asked
    assert model.index(2, 0).data() == "3" and model.index(2, 2).data() == "5.0 MiB"


# -- deltas in bulk: 20,000 rows at once, thousands removed, missed ticks -----------

def expected_ids(feed: Feed, sort: tuple[int, Qt.SortOrder] | None, needle: str) -> list[int]:
    """What the queue must show: the table (arrival order), filtered by name
    or destination, sorted by (column key, id)."""
    rows = [t for t in feed.table.values()
            if not needle or needle in t.name.lower() or needle in t.uri.lower()]
    if sort is not None:
        col, order = sort
        rows.sort(key=lambda t: (sort_key(t, col), t.id),
                  reverse=order == Qt.SortOrder.DescendingOrder)
    return [t.id for t in rows]


def model_failures(qtlog) -> list[str]:
    """What QAbstractItemModelTester (qtmodeltester, in Warning mode) reported."""
    return [r.message for r in qtlog.records if "FAIL" in r.message]


def mixed(i: int, tick: int = 0) -> TransferSnapshot:
    """A transfer whose state, progress and speed vary with id and tick."""
    state = ("queued", "uploading", "paused", "done", "failed")[(i * 7 + tick) % 5]
    parts = 1 + i % 4
    done = (i * 13 + tick * 5 * MiB) % (parts * 5 * MiB) if state != "done" else parts * 5 * MiB
    speed = float((i * 31 + tick * 17) % 997 + 1) * 1000 if state == "uploading" else 0.0
    return transfer(i, state, done=done, speed=speed, parts=parts)


SORTS = [None, (SPEED, Qt.SortOrder.DescendingOrder), (PROGRESS, Qt.SortOrder.AscendingOrder),
         (NAME, Qt.SortOrder.DescendingOrder), (STATE, Qt.SortOrder.AscendingOrder)]


def run_scenario(qtbot, qtlog, sort, needle: str, added: int, removed: int, changed: int,
                 on_model=None) -> QueueModel:
    """Feed a queue (model, proxy, view) ticks in bulk and check its rows
    against the table after each: `added` new rows in one tick, `changed`
    scattered rows per tick, `removed` scattered removals, a tick of a few
    of everything, a missed tick, an in-sync snapshot, filter changes."""
    model, proxy, view = queue_view(qtbot)
    if on_model is not None:
        on_model(model, proxy)
    if sort is not None:
        view.sortByColumn(*sort)
    proxy.set_filter_text(needle)
    feed = Feed()
    rng = random.Random(11)
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, a, b: inserts.append((a, b)))

    def check() -> None:
        assert shown_ids(model) == expected_ids(feed, sort, needle)
        assert [proxy.index(r, 0).data(ID_ROLE) for r in range(proxy.rowCount())] == \
            shown_ids(model)
        shown = [model.transfer(i) for i in shown_ids(model)]
        assert model.shown_states() == {t.state for t in shown}
        assert all(model.row_of(t.id) == r for r, t in enumerate(shown))
        assert model.snapshots() == list(feed.table.values())
        assert not model_failures(qtlog)

    def selected() -> set[int]:
        return {model.index(i.row(), 0).data(ID_ROLE)
                for i in view.selectionModel().selectedRows()}

    # the new rows in one tick: one insert (sorted: appended, or placed in one layout)
    model.update(feed.tick([mixed(i) for i in range(added)]))
    check()
    assert len(inserts) <= 1
    view.selectRow(0)
    view.selectRow(5)  # two rows selected through what follows
    picked = selected()

    # rows change per tick, scattered; one comes again as it is (idempotent)
    for tick in range(1, 4):
        *ids, same = rng.sample(sorted(feed.table), changed + 1)
        model.update(feed.tick([mixed(i, tick) for i in ids] + [feed.table[same]]))
        check()
    assert selected() == picked

    # scattered removals, plus an id that is not there at all
    gone = rng.sample(sorted(feed.table), removed)
    model.update(feed.tick(removed=[*gone, 999_999]))
    check()
    assert selected() == picked - set(gone)

    # a few removed in runs (row removals), a few new ones, changes: one tick
    ids = sorted(feed.table)
    mid = len(ids) // 2
    model.update(feed.tick([mixed(i, 9) for i in range(added + 100, added + 100 + changed)]
                           + [mixed(i, 9) for i in ids[mid:mid + changed]],
                           ids[mid // 2:mid // 2 + 4] + ids[-3:]))
    check()

    # a missed tick: rebuilt from the table, the selection follows its transfers
    before = selected()
    model.update(feed.tick([mixed(i, 12) for i in rng.sample(sorted(feed.table), changed)],
                           rng.sample(sorted(feed.table), removed // 5), missed=True))
    check()
    assert selected() == before & set(feed.table)

    # in sync: current_snapshot() and a repeated tick change nothing
    spy: list[str] = []
    for signal in ("dataChanged", "layoutChanged", "rowsInserted", "rowsRemoved", "modelReset"):
        getattr(model, signal).connect(lambda *_a, s=signal: spy.append(s))
    model.update(feed.current())
    assert spy == []

    # the filter narrows and widens over the same rows
    needle += "3"
    proxy.set_filter_text(needle)
    check()
    needle = ""
    proxy.set_filter_text(needle)
    check()
    return model


@pytest.mark.parametrize("needle", ["", "7"])
@pytest.mark.parametrize("sort", SORTS, ids=["unsorted", "speed-desc", "progress", "name-desc",
                                             "state"])
def test_bulk_deltas_under_the_model_tester(qtbot, qtmodeltester, qtlog, sort, needle) -> None:
    """qtmodeltester (Qt's QAbstractItemModelTester) stays attached to the
    model through every insert, removal, layout change and reset. It checks
    every cell on every signal (dataChanged included), so this runs at 160
    rows; test_bulk_deltas_at_scale runs the same at 20,000."""
    testers = []

    def attach(model, proxy) -> None:
        for m in (model, proxy):
            qtmodeltester.check(m)
            testers.append(qtmodeltester._qt_tester)  # check() keeps only the last

    run_scenario(qtbot, qtlog, sort, needle, added=160, removed=40, changed=6,
                 on_model=attach)
    assert all(t is not None for t in testers)


@pytest.mark.parametrize(("sort", "needle"), [(None, ""), (SORTS[1], "7"), (SORTS[2], "")],
                         ids=["unsorted", "speed-desc-filtered", "progress"])
def test_bulk_deltas_at_scale(qtbot, qtmodeltester, qtlog, sort, needle) -> None:
    """20,000 rows in one tick, 500 changed per tick, 5,000 removed scattered;
    the model tester checks the result."""
    model = run_scenario(qtbot, qtlog, sort, needle, added=20_000, removed=5000, changed=500)
    qtmodeltester.check(model)
    assert not model_failures(qtlog)


def test_new_consumer_rebuilds_from_the_table(qtbot, qtmodeltester) -> None:
    """A model made after the engine ran (the window at launch) starts from
    current_snapshot(): the table, whatever its seq."""
    feed = Feed()
    feed.tick([mixed(i) for i in range(600)])
    feed.tick([mixed(i, 1) for i in range(0, 600, 7)], removed=range(1, 600, 11))
    model = QueueModel()
    qtmodeltester.check(model)
    model.update(feed.current())
    assert shown_ids(model) == list(feed.table)
    assert [model.transfer(i) for i in shown_ids(model)] == list(feed.table.values())
    model.update(feed.tick([mixed(5, 2)], removed=[0]))
    assert model.transfer(5) is feed.table[5] and model.row_of(0) is None
    assert shown_ids(model) == list(feed.table)


def test_sorted_ticks_move_only_what_moved(qtbot) -> None:
    """Sorted by speed, rows whose order holds get dataChanged and no layout
    change; one overtaking another makes one layout change."""
    model, _proxy, view = queue_view(qtbot)
    feed = Feed()
    model.update(feed.tick([transfer(i, "uploading", speed=1000.0 * i) for i in range(100)]))
    view.sortByColumn(SPEED, Qt.SortOrder.DescendingOrder)
    layouts: list[int] = []
    model.layoutChanged.connect(lambda *_: layouts.append(1))
    # every speed doubles: same order
    model.update(feed.tick([transfer(i, "uploading", speed=2000.0 * i) for i in range(100)]))
    assert layouts == [] and shown_ids(model) == list(range(99, -1, -1))
    # transfer 3 overtakes them all
    model.update(feed.tick([transfer(3, "uploading", speed=1e9)]))
    assert layouts == [1]
    assert shown_ids(model)[:3] == [3, 99, 98]
    assert shown_ids(model) == expected_ids(feed, (SPEED, Qt.SortOrder.DescendingOrder), "")


# -- the window's selection at scale, against a stand-in engine ------------------------

class FakeEngine(QObject):
    """engine.py's public surface as the window uses it, recording calls."""

    snapshot = Signal(object)
    state_changed = Signal(int, str)
    message = Signal(str, str)
    idle = Signal()

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed = feed
        self.calls: list[tuple[str, object]] = []

    def current_snapshot(self) -> EngineSnapshot:
        return self.feed.current()

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **_options: self.calls.append(
            (name, *args) if len(args) > 1 else (name, args[0] if args else None))


def test_window_acts_on_a_select_all_of_twenty_thousand_rows(qtbot, journal) -> None:
    from PySide6.QtCore import QItemSelectionModel

    from mpugui.core.accounts import AccountStore
    from mpugui.core.s3.endpoint import ClientFactory
    from mpugui.engine.tasks import TaskRunner
    from mpugui.ui.app.main_window import MainWindow
    from mpugui.ui.common import settings as cfg

    feed = Feed()
    feed.tick([mixed(i) for i in range(20_000)])
    engine = FakeEngine(feed)
    runner = TaskRunner(1)
    window = MainWindow(engine, journal, AccountStore(), runner, ClientFactory(1),
                        MessageBridge(), cfg.open_settings())
    qtbot.addWidget(window)
    assert window.model.rowCount() == 20_000  # built from current_snapshot() at start
    window.queue.selectAll()
    assert window.selection.selected_states() == {"queued", "uploading", "paused", "done", "failed"}
    assert window.selection.selected_ids() == list(feed.table)
    window.acts["pause"].trigger()
    assert engine.calls[-1] == ("in_slices", "pause", list(feed.table))
    # two separate blocks, chosen as ranges
    sel = window.queue.selectionModel()
    sel.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for first, last in ((10, 19), (5000, 5004)):
        sel.select(QItemSelection(window.proxy.index(first, 0), window.proxy.index(last, 0)),
                   flags)
    ids = list(feed.table)
    assert window.selection.selected_ids() == ids[10:20] + ids[5000:5005]
    chosen = ids[10:20] + ids[5000:5005]
    assert window.selection.selected_states() == {mixed(i).state for i in chosen}
    window.selection.remove_finished()
    assert engine.calls[-1] == ("remove_finished", None)
    # a tick: the status bar and the actions come from the counts
    done = [feed.table[i]._replace(state="done") for i in ids[:100]]
    engine.snapshot.emit(feed.tick(done))
    assert f"{feed.current().done} done" in window.status.counts.text()
    assert window.model.transfer(ids[0]).state == "done"
    window.shutdown()
    assert ("shutdown", None) in engine.calls
