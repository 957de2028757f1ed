"""TLS through the fault proxy's TLS mode: a handshake that fails with an
endpoint that answered before is the network's doing (a login page presenting
its own certificate, a middlebox cutting handshakes): the transfer waits and
resumes by itself. A certificate that fails verification on first contact is
a clear failure, with no probing."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpugui.core.errors import TLS_AGAIN
from mpugui.core.s3.endpoint import Endpoint
from mpugui.core.states import DONE, FAILED, WAITING
from mpugui.core.units import MiB
from mpugui.engine.engine import UploadRequest
from tests.conftest import make_file
from tests.faultproxy import Fault, FaultProxy
from tests.functional.test_outage import FAST_PROBES, READ_TIMEOUT, states
from tests.tlscerts import self_signed, server_context


@pytest.fixture
def certs(tmp_path: Path) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    """The store's certificate (trusted through the account's CA bundle),
    and a login page's (trusted by nobody)."""
    return self_signed(tmp_path / "tls", "store"), self_signed(tmp_path / "tls", "portal")


@pytest.fixture
def tls_proxy(moto_url, certs) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url, tls=server_context(*certs[0])) as p:
        yield p


@pytest.fixture
def engines(engine_factory):
    return functools.partial(engine_factory, read_timeout=READ_TIMEOUT, **FAST_PROBES)


def trusting(proxy: FaultProxy, certs) -> Endpoint:
    return Endpoint(endpoint_url=proxy.url, region="us-east-1", ca_bundle=str(certs[0][0]))


@pytest.mark.parametrize("fault", ["portal", "reset"])
def test_tls_failing_after_the_endpoint_answered_waits_and_resumes(
        qtbot, engines, tls_proxy, certs, s3, bucket, tmp_path: Path, fault: str) -> None:
    src = make_file(tmp_path / "t.bin", 16 * MiB + 5, seed=31)
    held = tls_proxy.add(Fault("UploadPart", "hold", phase="before", part=2))
    engine = engines()
    tid = engine.add(UploadRequest(str(src), bucket, "t.bin", trusting(tls_proxy, certs)))
    qtbot.waitUntil(held.held.is_set, timeout=30000)
    # From now on every new connection meets the fault; the open ones are cut.
    if fault == "portal":
        tls_proxy.tls_swap = server_context(*certs[1])
    else:
        tls_proxy.tls_reset = True
    tls_proxy.drop_connections()
    held.release.set()
    # (the cut connections fail first as "closed"; each probe then meets the fault)
    qtbot.waitUntil(lambda: states(engine)[tid] == WAITING and engine.probes_sent >= 2
                    and [o.reason for o in engine.outages()] == [TLS_AGAIN], timeout=60000)
    tls_proxy.tls_swap, tls_proxy.tls_reset = None, False  # the network is back
    qtbot.waitUntil(lambda: states(engine)[tid] in (DONE, FAILED) and not engine.busy(),
                    timeout=60000)
    assert states(engine)[tid] == DONE, engine.current_snapshot().by_id(tid).detail
    assert s3.get_object(Bucket=bucket, Key="t.bin")["Body"].read() == src.read_bytes()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_certificate_not_verified_on_first_contact_fails_at_once(
        qtbot, engines, tls_proxy, s3, bucket, tmp_path: Path) -> None:
    big = make_file(tmp_path / "b.bin", 11 * MiB, seed=32)
    small = make_file(tmp_path / "s.bin", 700, seed=33)
    engine = engines()
    untrusting = Endpoint(endpoint_url=tls_proxy.url, region="us-east-1")  # no CA bundle
    ids = [engine.add(UploadRequest(str(f), bucket, f.name, untrusting)) for f in (big, small)]
    qtbot.waitUntil(lambda: set(states(engine).values()) == {FAILED} and not engine.busy(),
                    timeout=60000)
    for tid in ids:
        assert engine.current_snapshot().by_id(tid).detail.startswith(
            "The server's TLS certificate could not be verified (self-signed certificate).")
    assert engine.probes_sent == 0
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
