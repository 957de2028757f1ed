"""Garbage-collector pauses during a GUI probe, to tell them apart from the
window's own work (shared by gui_stall.py and gui_many.py)."""

from __future__ import annotations

import gc
import time


class GcPauses:
    """Records every collection's duration (ms) between start() and stop()."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self._began = 0.0

    def _on_gc(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.ms.append((time.perf_counter() - self._began) * 1000)

    def start(self) -> GcPauses:
        gc.callbacks.append(self._on_gc)
        return self

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)

    @property
    def longest(self) -> float:
        return round(max(self.ms, default=0.0), 1)
