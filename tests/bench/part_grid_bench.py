"""What the part grid costs at 10,000 parts (not a test: it prints; the suite's
tests/ui/test_ui_part_grid.py checks what it paints, not how fast).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.bench.part_grid_bench [--rounds 5]

  first paint   a new grid shown with a 10,000-part transfer, grab()bed
                (the suite asserted < 0.5 s here once; a busy machine took 0.8 s)
  tick          16 parts moving on, then the repaint of their cells
"""

from __future__ import annotations

import argparse
import statistics
import time

from PySide6.QtWidgets import QApplication

from mpugui.ui.parts.part_grid import PartGrid
from tests.ui.test_ui_part_grid import part, snapshot, ten_thousand


def ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    parts = ten_thousand()
    first, ticks = [], []
    for _ in range(args.rounds):
        grid = PartGrid()
        grid.resize(900, 520)
        started = time.perf_counter()
        grid.show()
        grid.set_transfer(snapshot(parts))
        grid.grab()
        first.append(ms(started))
        moved = list(parts)
        for i in range(6000, 6016):
            moved[i] = part(i + 1, "done")
        started = time.perf_counter()
        grid.set_transfer(snapshot(tuple(moved)))
        grid.viewport().repaint()
        ticks.append(ms(started))
        grid.close()
        grid.deleteLater()
        app.processEvents()
    for what, samples in (("first paint", first), ("tick", ticks)):
        print(f"  {what}: median {statistics.median(samples):.1f} ms, "
              f"max {max(samples):.1f} ms ({len(samples)} rounds)")


if __name__ == "__main__":
    main()
