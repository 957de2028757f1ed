"""A frozen link (connections accepted, nothing answered, no byte of a body
taken) through the real engine and the fault proxy, with botocore's real
retry settings (standard mode, 5 attempts) and a read timeout of 1 s standing
for the product's 60 s. Before the retry gate (core/s3/endpoint.py RetryGate),
such a freeze cost every part in flight botocore's five attempts, each
waiting out a timeout and sending the part again, then the engine's own part
retries: measured here, 104 s before the transfer went waiting and 130 MiB
sent again for a 40 MiB file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpugui.core.states import DONE, FAILED, WAITING
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.faultproxy import FaultProxy
from tests.functional.test_outage import FAST_PROBES, states, via

READ_TIMEOUT = 1.0
IN_FLIGHT = 4  # parts at once (the adaptive ceiling too): what a freeze may cost again


# A freeze of a little over one read timeout (60 s against 60 s) and one of
# several (300 s): the probe, a read timeout each, counts them out.
@pytest.mark.parametrize("failed_probes", [1, 5])
def test_a_frozen_link_waits_at_the_first_timeout_and_resends_only_what_was_in_flight(
        qtbot, engine_factory, moto_url, s3, bucket, tmp_path: Path,
        failed_probes: int) -> None:
    src = make_file(tmp_path / "f.bin", 40 * MiB + 3, seed=21)
    with FaultProxy(moto_url) as proxy:
        engine = engine_factory(read_timeout=READ_TIMEOUT, concurrency=IN_FLIGHT,
                                max_concurrency=IN_FLIGHT, **FAST_PROBES)
        tid = engine.add(UploadRequest(str(src), bucket, "f.bin", via(proxy)))
        qtbot.waitUntil(lambda: engine.current_snapshot().by_id(tid).parts_done >= 1,
                        timeout=30000)
        proxy.blackhole()  # the link freezes mid-upload, parts on the wire
        qtbot.waitUntil(lambda: states(engine)[tid] == WAITING, timeout=60000)
        qtbot.waitUntil(lambda: engine.probes_sent >= failed_probes, timeout=60000)
        frozen_probes = proxy.blackholed.count("HeadBucket")
        proxy.unblackhole()
        qtbot.waitUntil(lambda: states(engine)[tid] in (DONE, FAILED) and not engine.busy(),
                        timeout=60000)
        snap = engine.current_snapshot().by_id(tid)
        parts = engine._by_id[tid].parts
        gate = engine.clients.gates[via(proxy)]
        engine.shutdown()
    assert snap.state == DONE, snap.detail
    assert s3.get_object(Bucket=bucket, Key="f.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert frozen_probes >= failed_probes - 1  # the probes met the freeze, not the parts
    # botocore did not retry the frozen requests (each retry would have met
    # the freeze again): the parts held by it are the ones sent into it, and
    # each part went out at most twice, once after the probe was answered ...
    assert gate.vetoed >= 1 and proxy.blackholed.count("UploadPart") <= IN_FLIGHT
    assert max(p.attempts for p in parts) <= 2
    # ... and the bytes sent again are at most the parts that were in flight.
    assert snap.wire_bytes - src.stat().st_size <= IN_FLIGHT * 5 * MiB
