"""The CLI's progress counts files as of now (EngineSnapshot.live), not as
of the table, whose refresh is bounded per tick and lags behind a folder of
empty files."""

from __future__ import annotations

import io
import json

from mpugui.cli.report import Reporter
from mpugui.core.states import DONE, QUEUED, UPLOADING
from mpugui.core.transfer.snapshot import EngineSnapshot


def lagging_snapshot() -> EngineSnapshot:
    return EngineSnapshot(seq=3, changed=(), removed=(), events=(), table={},
                          counts={DONE: 500, QUEUED: 1500}, total_bytes=0, done_bytes=0,
                          retries=0, wire_bytes=0, speed=0.0, concurrency=8,
                          bandwidth_limit=0, time=1.0,
                          live={DONE: 9000, UPLOADING: 128, QUEUED: 872})


def test_json_progress_counts_files_as_of_now() -> None:
    out = io.StringIO()
    Reporter(out, True, None)._progress(lagging_snapshot())
    event = json.loads(out.getvalue())
    assert (event["event"], event["files_done"], event["files_total"]) == ("progress", 9000,
                                                                          10000)


def test_plain_progress_line_counts_files_as_of_now() -> None:
    out = io.StringIO()
    reporter = Reporter(out, False, None)
    reporter._last_plain = 0.0  # due: a line every few seconds in a pipe
    reporter._progress(lagging_snapshot())
    assert out.getvalue().startswith("9,000/10,000 files")
