"""The window during an outage: the waiting row with its countdown and
reason, the status bar saying the network is down, Retry as "retry now",
pause while waiting, and the give-up setting reaching the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from mpugui.ui.common import settings as cfg
from mpugui.ui.queue.queue_columns import STATE
from tests.conftest import make_file
from tests.faultproxy import FaultProxy
from tests.ui.test_ui_main_window import make_window, select  # noqa: F401 (fixture)


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as p:
        yield p


def test_waiting_row_countdown_status_retry_now_and_pause(
        qtbot, proxy, make_window, s3, bucket, tmp_path: Path) -> None:  # noqa: F811
    proxy.refuse()  # the network is down before anything starts
    window = make_window(probe_first=2.0, probe_cap=2.0)
    engine = window.engine
    src = make_file(tmp_path / "w.bin", 11 * MiB, seed=1)
    other = make_file(tmp_path / "x.bin", 2000, seed=2)
    ep = Endpoint(endpoint_url=proxy.url, region="us-east-1")
    tid = engine.add(UploadRequest(str(src), bucket, "w.bin", ep))
    tx = engine.add(UploadRequest(str(other), bucket, "x.bin", ep))

    def label(transfer_id: int) -> str:
        row = window.model.row_of(transfer_id)
        return "" if row is None else str(window.model.index(row, STATE).data())

    qtbot.waitUntil(lambda: label(tid).startswith("Waiting — retrying"), timeout=30000)
    tip = window.model.index(window.model.row_of(tid), STATE).data(
        Qt.ItemDataRole.ToolTipRole)
    assert "could not be reached" in tip
    qtbot.waitUntil(lambda: "Network down" in window.status.counts.text(), timeout=5000)
    assert "failed" not in window.status.counts.text()

    select(window, tid)
    acts = window.acts
    assert acts["retry"].isEnabled() and acts["pause"].isEnabled() and acts["cancel"].isEnabled()
    probes = engine.probes_sent
    acts["retry"].trigger()  # "Retry now": one probe at once, not after the backoff
    qtbot.waitUntil(lambda: engine.probes_sent > probes, timeout=5000)

    acts["pause"].trigger()
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "paused", timeout=5000)

    # The give-up setting reaches the engine and is kept.
    window.prefs.max_wait_acts[600].trigger()
    assert engine.settings.max_wait == 600 and cfg.get(window.settings, cfg.MAX_WAIT) == 600
    window.prefs.max_wait_acts[0].trigger()
    assert engine.settings.max_wait is None

    proxy.accept()
    select(window, tx)
    acts["retry"].trigger()
    engine.resume([tid])
    qtbot.waitUntil(lambda: window.model.transfer(tid).state == "done"
                    and window.model.transfer(tx).state == "done", timeout=60000)
    qtbot.waitUntil(lambda: "Network down" not in window.status.counts.text(), timeout=5000)
    assert s3.get_object(Bucket=bucket, Key="w.bin")["Body"].read() == src.read_bytes()
