"""The adaptive concurrency controller against a modelled link: an injected
clock and byte counts, no network. The model is what the benchmark's WAN
proxy emulates: each connection carries at most `per_conn` bytes/s and all
of them together at most `link`."""

from __future__ import annotations

import math

import pytest

from mpugui.core.transfer.adaptive import AdaptiveConcurrency, Inputs, Tuning

MB = 1_000_000
MiB = 1024 * 1024
TICK = 0.1


class Link:
    def __init__(self, per_conn: float, link: float) -> None:
        self.per_conn, self.link = per_conn, link
        self.moved = 0.0
        self.errors = 0

    def rate(self, level: int) -> float:
        return min(level * self.per_conn, self.link)


def drive(ctl: AdaptiveConcurrency, link: Link, seconds: float, start: float = 0.0,
          demand: int = 1000, part_size: int = 16 * MiB) -> tuple[float, list[int]]:
    """Run the controller for `seconds` of simulated ticks; returns the end
    time and every level it used."""
    now, levels = start, []
    while now < start + seconds:
        level = ctl.update(now, Inputs(int(link.moved), demand, link.errors, part_size))
        levels.append(level)
        link.moved += link.rate(level) * TICK
        now += TICK
    return now, levels


@pytest.mark.parametrize("per_conn, link", [(20 * MB, 100 * MB), (4 * MB, 40 * MB),
                                            (1 * MB, 24 * MB)])
def test_settles_near_what_the_link_needs_without_brute_force(per_conn: float,
                                                              link: float) -> None:
    ctl = AdaptiveConcurrency(maximum=64, unacked=None)
    model = Link(per_conn, link)
    _, levels = drive(ctl, model, 40)
    need = link / per_conn
    assert ctl.settled
    assert model.rate(ctl.level) >= 0.99 * link  # fills the link once settled
    # and sits at most the headroom above the need (extra parts in flight keep
    # the link full while the last parts drain)
    assert ctl.level <= math.ceil(need * Tuning().headroom)
    assert max(levels) <= 1.5 * need + 2  # never more busy than the target allows
    settle_time = levels.index(ctl.level, levels.index(max(levels))) * TICK
    assert settle_time < 20  # probing takes seconds, not the whole upload


def test_cpu_bound_loopback_stays_near_the_start_level() -> None:
    ctl = AdaptiveConcurrency(maximum=64, unacked=None)
    model = Link(per_conn=1000 * MB, link=600 * MB)  # more threads do not help
    _, levels = drive(ctl, model, 10)
    start = Tuning().start
    assert ctl.settled and start <= ctl.level <= math.ceil(start * Tuning().headroom)
    assert max(levels) == math.ceil(start * Tuning().growth)  # one probe, no more


def test_a_partly_paying_step_is_kept_when_the_link_needs_it() -> None:
    ctl = AdaptiveConcurrency(maximum=64, unacked=None)
    model = Link(per_conn=3 * MB, link=21 * MB)  # needs 7: the 6 -> 9 step half pays
    drive(ctl, model, 20)
    assert ctl.settled and model.rate(ctl.level) >= 0.99 * model.link and ctl.level <= 9


def test_a_step_that_reads_unpaid_once_is_read_again() -> None:
    """New connections are slow to start on a real WAN (handshakes, TCP slow
    start); a level's first window then under-reads it and its step looks
    unpaid. One more window at the same level tells that from a full link."""
    ctl = AdaptiveConcurrency(maximum=64, unacked=lambda: 0)  # the short, exact windows
    per_conn, link, warmup = 1 * MB, 24 * MB, 1.0
    moved, now, started, levels = 0.0, 0.0, [], []  # started: each connection's start
    while now < 40:
        level = ctl.update(now, Inputs(int(moved), 1000, 0, 16 * MiB))
        levels.append(level)
        started = (started + [now] * level)[:level]
        warm = sum(1 for s in started if now - s >= warmup)
        moved += min(warm * per_conn, link) * TICK
        now += TICK
    assert ctl.settled and ctl.level * per_conn >= link  # did not stop short
    assert max(levels) <= 1.5 * link / per_conn + 2


def test_errors_cut_the_level_and_hold_it() -> None:
    ctl = AdaptiveConcurrency(maximum=64, unacked=None)
    model = Link(1 * MB, 24 * MB)
    now, _ = drive(ctl, model, 20)
    settled = ctl.level
    model.errors += 3  # e.g. three parts met 503 SlowDown
    now, levels = drive(ctl, model, 5, start=now)
    assert levels[0] == math.floor(settled * Tuning().backoff)
    assert set(levels) == {levels[0]}  # held during the cooldown, no probing
    model.errors += 1  # another burst during the cooldown cuts again
    now, levels = drive(ctl, model, 1, start=now)
    assert levels[0] < math.floor(settled * Tuning().backoff)
    # After the cooldown it probes up again while throughput grows.
    _, levels = drive(ctl, model, 30, start=now)
    assert ctl.settled and model.rate(ctl.level) >= 0.99 * model.link


def test_no_probing_while_too_few_parts_can_run() -> None:
    ctl = AdaptiveConcurrency(maximum=64, unacked=None)
    model = Link(1 * MB, 24 * MB)
    _, levels = drive(ctl, model, 10, demand=3)  # e.g. the tail of the last file
    assert set(levels) == {Tuning().start}
    assert not ctl.settled


def test_bounded_by_the_user_maximum_and_by_memory() -> None:
    ctl = AdaptiveConcurrency(maximum=10, unacked=None)
    model = Link(1 * MB, 24 * MB)
    _, levels = drive(ctl, model, 20)
    assert max(levels) == 10 and ctl.level == 10

    ctl = AdaptiveConcurrency(maximum=64, memory_budget=256 * MiB, unacked=None)
    model = Link(1 * MB, 24 * MB)
    _, levels = drive(ctl, model, 20, part_size=32 * MiB)
    assert max(levels) == 8  # 8 parts x 32 MiB in memory at most


def test_demand_counts_parts_running_or_waiting_but_not_paused_ones() -> None:
    from mpugui.core.journal.store import TransferRecord
    from mpugui.core.s3.endpoint import Endpoint
    from mpugui.core.states import PAUSED, QUEUED
    from mpugui.core.transfer.progress import Transfer
    from mpugui.core.transfer.scheduler import Scheduler

    def transfer(tid: int, state: str) -> Transfer:
        rec = TransferRecord(f"/f{tid}", "b", f"k{tid}", Endpoint(), 4 * 5 * MiB, 0, "",
                             5 * MiB, True, "crc32c", state=state, position=tid, id=tid)
        t = Transfer(rec, rec.plan(), {})
        t.prepared = True
        return t

    sched = Scheduler(limit=2)
    running, paused = transfer(1, QUEUED), transfer(2, PAUSED)
    sched.offer(running)
    sched.offer(paused)  # not runnable: never offered
    job = sched.next_job()
    assert job is not None and job.part is not None and job.part.number == 1
    # one part running, three waiting; the paused transfer's four parts are no demand
    assert sched.demand(cap=64) == 4
    assert sched.demand(cap=3) == 3


def test_part_bodies_feed_the_shared_byte_meter_without_copying() -> None:
    import io
    import threading

    from mpugui.core.transfer.bandwidth import RateLimiter
    from mpugui.core.transfer.body import PartBody

    meter = RateLimiter(0)
    data = memoryview(bytes(range(256)) * 1024)
    body = PartBody(data, threading.Event(), meter)
    first = body.read(100_000)
    assert isinstance(first, memoryview) and first.obj is data.obj  # a view, not a copy
    assert meter.moved == 0  # counted once the caller comes back for more (it is sent)
    rest = body.read()
    assert meter.moved == len(first)
    assert bytes(first) + bytes(rest) == bytes(data)
    body.seek(0, io.SEEK_SET)  # botocore rewinds to retry: the re-send counts again
    assert bytes(body.read()) == bytes(data)
    assert len(body.read()) == 0  # urllib3 reads to the empty end, which counts the last chunk
    assert meter.moved == len(first) + len(data) and body.total == meter.moved


def buffered_bytes(now: float, starts: list[float], grow: float = 2 * MB,
                   cap: float = 6 * MB) -> float:
    """What sits unacknowledged in the send buffers: a new connection's
    buffer grows as the kernel autotunes it (here 2 MB/s up to 6 MB)."""
    return sum(min(cap, grow * (now - s)) for s in starts)


def probe_with_growing_send_buffers(correct: bool) -> tuple[AdaptiveConcurrency, list[int]]:
    model = Link(4 * MB, 40 * MB)  # needs 10, allowed 17
    starts: list[float] = []
    clock = [0.0]
    ctl = AdaptiveConcurrency(maximum=64, unacked=(
        lambda: int(buffered_bytes(clock[0], starts))) if correct else None)
    levels = []
    while clock[0] < 40:
        raw = model.moved + buffered_bytes(clock[0], starts)
        level = ctl.update(clock[0], Inputs(int(raw), 1000, 0, 16 * MiB))
        starts.extend([clock[0]] * (level - len(starts)))
        del starts[level:]
        levels.append(level)
        model.moved += model.rate(level) * TICK
        clock[0] += TICK
    return ctl, levels


def test_send_buffers_filling_do_not_look_like_throughput() -> None:
    """The meter counts bytes handed to sockets; new connections' send
    buffers swallow bytes the link has not carried, so a step onto a full
    link looks as if it paid. The controller subtracts what is still
    unacknowledged (unacked_bytes) and lands on what the link needs; the raw
    meter alone does not."""
    ctl, levels = probe_with_growing_send_buffers(correct=True)
    assert ctl.settled and max(levels) <= 1.5 * 10 + 2
    settled_range = range(10, math.ceil(10 * Tuning().headroom) + 1)
    assert ctl.level in settled_range
    raw, raw_levels = probe_with_growing_send_buffers(correct=False)
    # What the correction prevents: the raw meter misjudges the steps (here it
    # credits the first level with buffer-filling bytes and stops short of the
    # 10 connections the link needs).
    assert not (raw.level in settled_range and max(raw_levels) <= 1.5 * 10 + 2)


def test_probing_starts_over_when_the_queue_ran_dry() -> None:
    ctl = AdaptiveConcurrency(maximum=64, unacked=None)
    model = Link(1 * MB, 24 * MB)
    now, _ = drive(ctl, model, 40)
    assert ctl.settled and ctl.level > Tuning().start
    now, levels = drive(ctl, model, 6, start=now, demand=0)
    assert levels[-1] == Tuning().start and not ctl.settled


def test_unacked_bytes_reads_this_process_send_queues() -> None:
    import socket
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("/proc/net/tcp is Linux only")
    from mpugui.core.transfer.adaptive import unacked_bytes

    before = unacked_bytes()
    assert before is not None
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname()) as client:
            peer, _ = server.accept()  # never reads: its window closes
            with peer:
                client.setblocking(False)
                sent = 0
                try:
                    while True:
                        sent += client.send(b"x" * 65536)
                except BlockingIOError:
                    pass
                stuck = unacked_bytes()
                assert stuck is not None and stuck - before > 0
                assert stuck - before <= sent
