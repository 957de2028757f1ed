"""PartBody hands botocore a part in chunks sized by the part's own pace:
small on a slow link (a pause or cancel is seen between chunks), large on a
fast one (each chunk is a trip through Python). The clock is injected."""

from __future__ import annotations

import threading

import pytest

from mpugui.core.errors import Interrupted
from mpugui.core.transfer import body as body_mod
from mpugui.core.transfer.body import CHUNK_SECONDS, MAX_CHUNK, MIN_CHUNK, PartBody

MiB = 1024 * 1024


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(body_mod.time, "monotonic", lambda: now[0])
    return now


def test_chunks_follow_the_pace_of_the_part(clock) -> None:
    data = memoryview(bytearray(64 * MiB))
    body = PartBody(data, threading.Event())
    assert len(body.read(MiB)) == MIN_CHUNK  # nothing known yet
    # A slow link: 100 kB/s -> chunks of ~0.2 s of it, never below the floor.
    clock[0] += MIN_CHUNK / 100_000
    assert len(body.read(MiB)) == max(MIN_CHUNK, int(100_000 * CHUNK_SECONDS))
    # A fast link: the part has moved 32 MiB in the next 0.1 s -> the ceiling.
    body.read(32 * MiB)  # the caller may ask for less than the limit, never more
    body.total = 32 * MiB
    clock[0] += 0.1
    assert len(body.read(4 * MiB)) == MAX_CHUNK
    assert len(body.read(1000)) == 1000  # never more than asked


def test_read_all_and_cancel_still_hold(clock) -> None:
    data = memoryview(bytes(range(256)) * 4096)
    cancel = threading.Event()
    body = PartBody(data, cancel)
    assert bytes(body.read()) == bytes(data)  # read() without a size: the rest, whole
    body.seek(0)
    clock[0] += 1
    cancel.set()
    with pytest.raises(Interrupted):
        body.read(MIN_CHUNK)
