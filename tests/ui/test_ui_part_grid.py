"""The part grid: 10,000 parts paint (grab(); what that costs:
tests/bench/part_grid_bench.py), cells fit the view, colours follow states,
uploading cells fill, tooltips and keyboard work, and the grid and the parts
table follow each other's selection."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from mpugui.core.transfer.snapshot import PartSnapshot, TransferSnapshot
from mpugui.core.units import MiB
from mpugui.ui.parts.part_grid import MARGIN, MIN_CELL, PartGrid
from mpugui.ui.parts.part_panel import PartPanel
from mpugui.ui.queue.progress_delegate import state_color

PART = 5 * MiB


def part(n: int, state: str, sent: int | None = None) -> PartSnapshot:
    sent = PART if state == "done" else (sent or 0)
    return PartSnapshot(n, (n - 1) * PART, PART, state, sent, 1, 1e6 if state == "uploading"
                        else 0.0, '"etag"' if state == "done" else None, None, None)


def snapshot(parts: tuple[PartSnapshot, ...], tid: int = 1) -> TransferSnapshot:
    done = sum(p.state == "done" for p in parts)
    return TransferSnapshot(
        id=tid, name="huge.img", source="/data/huge.img", bucket="b", key="huge.img",
        size=len(parts) * PART, done_bytes=done * PART, speed=1e7, eta=5.0, state="uploading",
        detail="", parts_done=done, parts_total=len(parts), part_size=PART,
        smallest_part=PART, upload_id="u",
        checksum="crc32c", verification=None, retries=0, wire_bytes=0, parts=parts)


def ten_thousand() -> tuple[PartSnapshot, ...]:
    states = ["done"] * 6000 + ["uploading"] * 16 + ["failed"] * 2 + ["pending"] * 3982
    return tuple(part(i + 1, s, sent=PART // 2 if s == "uploading" else None)
                 for i, s in enumerate(states))


def pixel(image: QImage, grid: PartGrid, index: int, dy: float = 0.5) -> QColor:
    rect = grid._cell_rect(index)
    ratio = image.devicePixelRatio()
    x = rect.center().x()
    y = rect.top() + int(rect.height() * dy)
    return image.pixelColor(int(x * ratio), int(y * ratio))


def test_ten_thousand_parts_paint_in_state_colours(qtbot) -> None:
    grid = PartGrid()
    qtbot.addWidget(grid)
    grid.resize(900, 520)
    grid.show()
    parts = ten_thousand()
    grid.set_transfer(snapshot(parts))
    assert grid.cell_size() >= MIN_CELL
    image = grid.grab().toImage()  # (its speed: tests/bench/part_grid_bench.py, gui_stall.py)
    pal = grid.palette()
    # every part is visible: the last cell lies inside the view
    last = grid._cell_rect(9999)
    assert last.bottom() <= grid.viewport().height() - MARGIN + 1
    assert pixel(image, grid, 0) == state_color("done", pal)
    assert pixel(image, grid, 6016) == state_color("failed", pal)
    # an uploading cell half sent: its lower part is filled, its upper is not
    assert pixel(image, grid, 6000, dy=0.9) == state_color("uploading", pal)
    assert pixel(image, grid, 6000, dy=0.1) != state_color("uploading", pal)

    # a tick where 16 parts moved repaints only their cells
    moved = list(parts)
    for i in range(6000, 6016):
        moved[i] = part(i + 1, "done")
    QApplication.processEvents()  # the paint queued by show() goes first
    updates = []
    original = grid.paintEvent

    def counting(event):
        updates.append(event.rect())
        original(event)

    grid.paintEvent = counting  # type: ignore[method-assign]
    grid.set_transfer(snapshot(tuple(moved)))
    qtbot.waitUntil(lambda: bool(updates), timeout=2000)
    dirty = updates[-1]
    assert dirty.height() < grid.viewport().height() / 2
    assert dirty.contains(grid._cell_rect(6005).center())


def test_small_transfer_gets_big_cells_and_scrolls_never(qtbot) -> None:
    grid = PartGrid()
    qtbot.addWidget(grid)
    grid.resize(600, 300)
    grid.show()
    grid.set_transfer(snapshot(tuple(part(n, "pending") for n in range(1, 9))))
    assert grid.cell_size() == 30
    assert grid.verticalScrollBar().maximum() == 0


def test_tooltip_keyboard_and_table_follow_the_grid(qtbot) -> None:
    panel = PartPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 400)
    panel.show()
    parts = tuple(part(n, "done" if n < 5 else "pending") for n in range(1, 41))
    panel.set_transfer(snapshot(parts))
    grid = panel.grid
    qtbot.waitExposed(panel)
    assert panel.legend.counts() == {"done": 4, "uploading": 0, "pending": 36, "failed": 0}
    center = grid._cell_rect(2).center()
    assert grid.index_at(center) == 2
    assert grid.index_at(QPoint(1, 1)) is None  # the margin is no cell
    with qtbot.waitSignal(grid.part_activated, timeout=1000) as sig:
        qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert sig.args == [3]
    row = panel.table.selectionModel().currentIndex()
    assert row.row() == 2
    grid.setFocus()
    with qtbot.waitSignal(grid.part_activated, timeout=1000) as sig:
        qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert sig.args == [4]
    # selecting in the table moves the grid's selection
    panel.table.selectRow(9)
    assert grid._selected == 10
    assert "Part 3" in panel.model.index(2, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_same_transfer_updates_in_place(qtbot) -> None:
    panel = PartPanel()
    qtbot.addWidget(panel)
    parts = tuple(part(n, "pending") for n in range(1, 6))
    panel.set_transfer(snapshot(parts))
    resets = []
    panel.model.modelReset.connect(lambda: resets.append(1))
    changed = []
    panel.model.dataChanged.connect(lambda a, b, _r=(): changed.append((a.row(), b.row())))
    moved = (parts[0], parts[1]._replace(state="uploading", sent=MiB), *parts[2:])
    panel.set_transfer(snapshot(moved))
    assert resets == [] and changed == [(1, 1)]
    panel.set_transfer(snapshot(moved, tid=2))  # another transfer: a reset
    assert resets == [1]
