"""What a tick costs the queue at 100,000 rows (not a test: it prints).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/queue_model_bench.py
    ... --rows 10000 --legacy /tmp/old_queue_model.py   # a QueueModel fed whole lists

The queue model sits behind its proxy in a shown QueueView, as in the
window. Each operation is one model.update() (or sort/filter call) plus the
event processing and repaint it causes, timed on the GUI thread:

  add       N rows arriving in ticks of --batch new rows
  change    --changed scattered rows changing per tick (states, progress, speed)
  remove    half the rows (every other one: the finished ones) in one tick
  resync    a new model rebuilt from the table (the window at launch)
  filter    typing one character into the filter, then clearing it
  sort      a header click (a new sort column)
  select    Ctrl+A, then the selection read as ranges (what the window does)
            and as selectedRows() (what it did)

--legacy loads an older queue_model.py whose update() takes a snapshot with
`.transfers` (every transfer, every tick); rows are then fed that way.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mpugui.core.transfer.snapshot import (
    EngineSnapshot,
    PartSnapshot,
    TransferSnapshot,
)
from mpugui.core.units import MiB
from mpugui.ui.queue import queue_columns, queue_model
from mpugui.ui.queue.queue_view import QueueView

STATES = ("queued", "uploading", "paused", "done", "failed")


def transfer(i: int, tick: int = 0) -> TransferSnapshot:
    state = STATES[(i * 7 + tick) % 5]
    parts = 1 + i % 4
    size = parts * 5 * MiB
    done = size if state == "done" else (i * 13 + tick * 5 * MiB) % size
    speed = float((i * 31 + tick * 17) % 997 + 1) * 1000 if state == "uploading" else 0.0
    part_snaps = tuple(PartSnapshot(n, (n - 1) * 5 * MiB, 5 * MiB, "pending", 0, 1, 0.0,
                                    None, None, None) for n in range(1, parts + 1))
    return TransferSnapshot(
        id=i, name=f"file-{i:06d}.bin", source=f"/data/file-{i:06d}.bin", bucket="b",
        key=f"k/file-{i:06d}.bin", size=size, done_bytes=done, speed=speed,
        eta=(size - done) / speed if speed else None, state=state, detail="",
        parts_done=0, parts_total=parts, part_size=5 * MiB, smallest_part=5 * MiB,
        upload_id=None, checksum="crc32c", verification=None, retries=0, wire_bytes=done,
        parts=part_snaps)


class Feed:
    """The engine's side: a table and one delta snapshot per tick."""

    def __init__(self, legacy: bool) -> None:
        self.table: dict[int, TransferSnapshot] = {}
        self.seq = 0
        self.legacy = legacy

    def tick(self, changed=(), removed=()):
        changed, removed = sorted(changed, key=lambda t: t.id), tuple(removed)
        for tid in removed:
            self.table.pop(tid, None)
        for t in changed:
            self.table[t.id] = t
        self.seq += 1
        if self.legacy:
            return SimpleNamespace(transfers=tuple(self.table.values()))
        return EngineSnapshot(
            seq=self.seq, changed=tuple(changed), removed=removed, events=(), table=self.table,
            counts=dict(Counter(t.state for t in self.table.values())), total_bytes=0,
            done_bytes=0, retries=0, wire_bytes=0, speed=0.0, concurrency=8,
            bandwidth_limit=0, time=time.monotonic())


def load_legacy(path: str):
    spec = importlib.util.spec_from_file_location("legacy_queue_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class Bench:
    def __init__(self, module, legacy: bool, limit_s: float) -> None:
        self.module, self.legacy, self.limit_s = module, legacy, limit_s
        self.app = QApplication.instance() or QApplication([])

    def queue(self):
        model = self.module.QueueModel()
        proxy = self.module.QueueProxy()
        proxy.setSourceModel(model)
        view = QueueView()
        view.setModel(proxy)
        view.setup_columns()
        view.resize(1200, 700)
        view.show()
        self.app.processEvents()
        return model, proxy, view

    def timed(self, view, fn) -> float:
        gc.collect()  # a collection of the 100,000 snapshots is not the tick's cost
        started = time.perf_counter()
        fn()
        self.app.processEvents()
        view.viewport().repaint()
        return (time.perf_counter() - started) * 1000

    def run(self, label: str, rows: int, batch: int, changed: int, sort, needle: str) -> None:
        print(f"\n== {label}: {rows:,} rows" + (" (legacy model)" if self.legacy else ""))
        model, proxy, view = self.queue()
        if sort is not None:
            view.sortByColumn(*sort)
        if needle:
            proxy.set_filter_text(needle)
        feed = Feed(self.legacy)
        rng = random.Random(3)

        add = []
        for start in range(0, rows, batch):
            snap = feed.tick([transfer(i) for i in range(start, min(rows, start + batch))])
            add.append(self.timed(view, lambda s=snap: model.update(s)))
            if add[-1] > self.limit_s * 1000:
                print(f"  add: stopped after {start + batch:,} rows, last tick "
                      f"{add[-1]:.0f} ms")
                return
        report(f"add, per tick of {batch} new rows", add)

        ticks = []
        for tick in range(1, 11):
            ids = rng.sample(sorted(feed.table), min(changed, len(feed.table)))
            snap = feed.tick([transfer(i, tick) for i in ids])
            ticks.append(self.timed(view, lambda s=snap: model.update(s)))
            if ticks[-1] > self.limit_s * 1000:
                break
        report(f"change, per tick of {changed} scattered rows", ticks)

        if not self.legacy:
            view.selectAll()
            self.app.processEvents()
            ticks = []
            for tick in range(11, 16):
                ids = rng.sample(sorted(feed.table), min(changed, len(feed.table)))
                snap = feed.tick([transfer(i, tick) for i in ids])
                ticks.append(self.timed(view, lambda s=snap: model.update(s)))
            report(f"change, {changed} rows, all rows selected", ticks)
            sel = view.selectionModel()
            started = time.perf_counter()
            ranges = [(r.top(), r.bottom()) for r in
                      proxy.mapSelectionToSource(sel.selection())]
            ids = [t.id for a, b in ranges for t in model.rows(a, b)]
            states = model.shown_states()
            report("select all: ids and states from ranges", [ms(started)])
            started = time.perf_counter()
            legacy_ids = [i.data(queue_columns.ID_ROLE) for i in sel.selectedRows()]
            report("select all: ids from selectedRows() (before)", [ms(started)])
            assert legacy_ids == ids and states
            sel.clearSelection()
            view.selectRow(3)

        finished = sorted(feed.table)[::2]
        snap = feed.tick(removed=finished)
        report(f"remove {len(finished):,} scattered rows in one tick",
               [self.timed(view, lambda: model.update(snap))])

        if not self.legacy:
            ids = sorted(feed.table)[:1000:3]
            snap = feed.tick(removed=ids)
            report(f"remove {len(ids)} scattered rows in one tick",
                   [self.timed(view, lambda: model.update(snap))])
            snap = feed.tick([transfer(i) for i in range(rows, rows + 5000)])
            report("add 5,000 more rows to the remaining",
                   [self.timed(view, lambda: model.update(snap))])
            snap = feed.tick(removed=range(rows, rows + 5000))
            report("remove those 5,000 (one run)",
                   [self.timed(view, lambda: model.update(snap))])

        report("filter: type one character",
               [self.timed(view, lambda: proxy.set_filter_text(needle + "7"))])
        report("filter: clear it",
               [self.timed(view, lambda: proxy.set_filter_text(needle))])
        report("sort: click the Name header",
               [self.timed(view, lambda: view.sortByColumn(queue_columns.NAME,
                                                           Qt.SortOrder.AscendingOrder))])
        report("sort: click it again (descending)",
               [self.timed(view, lambda: view.sortByColumn(queue_columns.NAME,
                                                           Qt.SortOrder.DescendingOrder))])
        view.close()

        if not self.legacy:
            snap = feed.tick([transfer(i) for i in range(rows + 5000, rows + 5000 + rows // 2)])
            model2, _proxy2, view2 = self.queue()
            if sort is not None:
                view2.sortByColumn(*sort)
            current = feed.tick()
            report(f"resync: a new window's model from a {len(feed.table):,}-row table",
                   [self.timed(view2, lambda: model2.update(current))])
            view2.close()


def ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def report(what: str, samples: list[float]) -> None:
    if len(samples) == 1:
        print(f"  {what}: {samples[0]:.1f} ms")
    else:
        print(f"  {what}: median {statistics.median(samples):.1f} ms, "
              f"max {max(samples):.1f} ms ({len(samples)} ticks)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--changed", type=int, default=500)
    ap.add_argument("--legacy", help="an older queue_model.py fed whole snapshots")
    ap.add_argument("--limit", type=float, default=20.0,
                    help="stop a run when one tick takes longer (seconds)")
    ap.add_argument("--only", help="run only the runs whose label contains this")
    args = ap.parse_args()
    module = load_legacy(args.legacy) if args.legacy else queue_model
    bench = Bench(module, bool(args.legacy), args.limit)
    runs = [("unsorted", None, ""),
            ("sorted by speed, descending", (queue_columns.SPEED, Qt.SortOrder.DescendingOrder),
             ""),
            ("sorted by progress", (queue_columns.PROGRESS, Qt.SortOrder.AscendingOrder), ""),
            ("unsorted, filtered ('3')", None, "3"),
            ("sorted by speed, filtered ('3')",
             (queue_columns.SPEED, Qt.SortOrder.DescendingOrder), "3")]
    for label, sort, needle in runs:
        if args.only and args.only not in label:
            continue
        bench.run(label, args.rows, args.batch, args.changed, sort, needle)


if __name__ == "__main__":
    main()
