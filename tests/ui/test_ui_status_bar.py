"""The status bar's speed: bytes per second, or files per second while a
folder of empty files flies (no bytes move, yet it is not idle)."""

from __future__ import annotations

from mpugui.core.states import DONE, QUEUED, UPLOADING
from mpugui.core.transfer.snapshot import EngineSnapshot
from mpugui.ui.app.status_bar import StatusPanel


def snap(t: float, done: int, uploading: int, speed: float = 0.0, queued: int = 0,
         live: dict[str, int] | None = None) -> EngineSnapshot:
    return EngineSnapshot(seq=1, changed=(), removed=(), events=(), table={},
                          counts={DONE: done, UPLOADING: uploading, QUEUED: queued},
                          total_bytes=0, done_bytes=0, retries=0, wire_bytes=0, speed=speed,
                          concurrency=8, bandwidth_limit=0, time=t, live=live or {})


def test_speed_is_bytes_files_or_idle(qtbot) -> None:
    panel = StatusPanel()
    qtbot.addWidget(panel)
    panel.update_from(snap(100.0, 0, 0))
    assert panel.speed.text() == "↑ idle"
    panel.update_from(snap(100.25, 0, 128))  # started: nothing finished yet
    assert panel.speed.text() == "↑ 0 B/s"
    for i in range(1, 13):  # 12 ticks of 0.25 s, 500 empty files each
        panel.update_from(snap(100.25 + i / 4, 500 * i, 128))
    assert panel.speed.text() == "↑ 2,000 files/s"
    panel.update_from(snap(103.5, 6500, 8, speed=3 * 1024 * 1024))  # bytes move: bytes/s
    assert panel.speed.text() == "↑ 3.0 MiB/s"
    panel.update_from(snap(104.0, 7000, 0))
    assert panel.speed.text() == "↑ idle"
    panel.update_from(snap(200.0, 7000, 4))  # a new start: the old files do not count
    assert panel.speed.text() == "↑ 0 B/s"
    for i in range(1, 13):  # each tick catches the files queued or done, none uploading
        panel.update_from(snap(200.0 + i / 4, 7000 + 1000 * i, 0, queued=5000))
    assert panel.speed.text() == "↑ 4,000 files/s"


def test_counts_are_as_of_now_not_as_of_the_lagging_table(qtbot) -> None:
    """The table is refreshed a bounded number of transfers a tick; while
    thousands of empty files finish a second its sums lag behind."""
    panel = StatusPanel()
    qtbot.addWidget(panel)
    panel.update_from(snap(10.0, 100, 0, queued=900, live={DONE: 1000, QUEUED: 0}))
    assert panel.counts.text() == "0 active  ·  0 queued  ·  1000 done"
    assert panel.speed.text() == "↑ idle"
