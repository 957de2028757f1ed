"""core/transfer/outage.py on its own: one probe schedule per endpoint
whatever the number of waiting transfers, capped exponential backoff with
jitter, recovery, the give-up limit; and the sentences an outage ends with."""

from __future__ import annotations

from botocore import exceptions as bx
from urllib3.exceptions import ProtocolError

from mpugui.core.errors import describe, is_stalled, is_tls_failure, is_transient, is_unreachable
from mpugui.core.s3.endpoint import Endpoint, RetryGate
from mpugui.core.transfer.outage import QUIET_AFTER, Outages, SleepWatch


def test_many_waiting_transfers_share_one_probe_schedule() -> None:
    outages: Outages[int] = Outages(first=1.0, cap=30.0, rng=lambda: 0.5)
    for tid in range(100_000):  # a folder of small files, all waiting
        outages.wait("ep", "b", tid, tid, "down", now=0.0)
    outages.wait("other", "b2", 7, 7, "down", now=0.0)
    assert len(outages._due) == 2  # one timer per endpoint, not per transfer
    assert outages.take_due(0.5) == []
    due = outages.take_due(1.0)
    assert [o.key for o in due] == ["ep", "other"] and outages.probes == 2
    assert outages.take_due(100.0) == []  # probing: not due again until it returns
    resumed = outages.answered(due[0], now=1.0)
    assert len(resumed) == 100_000 and not outages.is_down("ep")


def test_backoff_doubles_to_the_cap_with_jitter() -> None:
    outages: Outages[int] = Outages(first=1.0, cap=30.0, rng=lambda: 0.5)
    o = outages.wait("ep", "b", 1, 1, "refused", now=0.0)
    delays = []
    t = 0.0
    for _ in range(8):
        assert outages.next_due() == o.next_probe
        delays.append(o.next_probe - t)
        t = o.next_probe
        (probe,) = outages.take_due(t)
        outages.probe_failed(probe, "refused", t)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    spread = Outages[int](first=1.0, cap=30.0, rng=lambda: 1.0).delay(10)
    assert 30.0 < spread <= 30.0 * 1.25  # jitter: clients do not probe in step
    assert Outages[int](first=1.0, cap=30.0, rng=lambda: 0.0).delay(0) == 0.75


def test_failing_again_after_an_answer_backs_off_further_until_a_success() -> None:
    outages: Outages[str] = Outages(first=1.0, cap=30.0, rng=lambda: 0.5)
    o = outages.wait("ep", "b", 1, "t1", "503", now=0.0)
    (probe,) = outages.take_due(1.0)
    assert outages.answered(probe, 1.0) == ["t1"]
    # the probe answered but the upload got 503 again: a longer wait, same outage
    again = outages.wait("ep", "b", 1, "t1", "503", now=1.5)
    assert again is o and o.level == 1 and o.next_probe == 3.5 and o.since == 0.0
    outages.leave("ep", 1)
    outages.succeeded("ep")  # a request got through: the outage is over
    assert outages.get("ep") is None
    fresh = outages.wait("ep", "b", 2, "t2", "refused", now=50.0)
    assert fresh.level == 0 and fresh.since == 50.0


def test_retry_now_and_the_give_up_limit() -> None:
    outages: Outages[str] = Outages(first=10.0, cap=30.0, max_wait=60.0, rng=lambda: 0.5)
    o = outages.wait("ep", "b", 1, "t1", "refused", now=0.0)
    assert outages.take_due(1.0) == []
    assert outages.probe_now("ep") and [p.key for p in outages.take_due(1.0)] == ["ep"]
    outages.probe_failed(o, "refused", 1.0)
    assert not outages.expired(o, 59.0) and outages.expired(o, 60.0)
    assert outages.give_up("ep") == ["t1"] and not outages
    assert not outages.probe_now("ep")


def test_which_causes_wait_and_what_they_say() -> None:
    refused = bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert is_transient(refused) and is_unreachable(refused)
    assert is_unreachable(bx.ReadTimeoutError(endpoint_url="x"))  # a frozen link
    reset = bx.ConnectionClosedError(endpoint_url="x")
    assert is_transient(reset) and not is_unreachable(reset)  # part retries first
    denied = bx.ClientError({"Error": {"Code": "AccessDenied"},
                             "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")
    assert not is_transient(denied)
    assert describe(bx.UnauthorizedSSOTokenError(), profile="dev") == \
        "The SSO session has expired. Run: aws sso login --profile dev"
    expired = bx.ClientError({"Error": {"Code": "ExpiredToken"}}, "PutObject")
    assert "aws sso login --profile dev)" in describe(expired, profile="dev")


def test_an_answered_outage_closes_even_if_nothing_succeeds_after() -> None:
    outages: Outages[str] = Outages(first=1.0, cap=30.0, rng=lambda: 0.5)
    outages.wait("ep", "b", 1, "t1", "refused", now=0.0)
    (probe,) = outages.take_due(1.0)
    assert outages.answered(probe, 1.0) == ["t1"]
    # Closed at the answer: nothing holds jobs, though no request succeeded
    # (its transfer may be paused, or fail for good); only remembered.
    assert not outages and outages.get("ep") is None and not outages.is_down("ep")
    assert outages.watching and outages.next_due() is None
    # Long after, a failure is a new outage from the first delay.
    late = outages.wait("ep", "b", 2, "t2", "refused", now=1.0 + QUIET_AFTER + 1)
    assert late.level == 0 and late.since == 1.0 + QUIET_AFTER + 1
    (probe,) = outages.take_due(late.next_probe)
    outages.answered(probe, late.next_probe)
    outages.succeeded("ep")  # a request got through: nothing left to remember
    assert not outages.watching


def test_a_failed_request_is_not_retried_inside_botocore_once_stalled_or_down() -> None:
    down: set[Endpoint] = set()
    ep = Endpoint(endpoint_url="http://127.0.0.1:1")
    gate = RetryGate(ep, down.__contains__)
    timed_out = bx.ReadTimeoutError(endpoint_url="x")
    send_stalled = bx.ConnectionClosedError(
        endpoint_url="x", error=ProtocolError("Connection aborted.", TimeoutError("timed out")))
    reset = bx.ConnectionClosedError(
        endpoint_url="x", error=ProtocolError("Connection aborted.", ConnectionResetError()))
    assert is_stalled(timed_out) and is_stalled(send_stalled) and not is_stalled(reset)
    assert is_unreachable(send_stalled) and not is_unreachable(reset)
    # A stalled request already waited a whole timeout: botocore stops (False).
    assert gate(caught_exception=timed_out) is False
    assert gate(caught_exception=send_stalled) is False
    # A reset is botocore's to retry (None) ... unless the endpoint is down.
    assert gate(caught_exception=reset) is None
    assert gate(response=("http", {}), caught_exception=None) is None  # answers: botocore's
    down.add(ep)
    assert gate(caught_exception=reset) is False and gate.vetoed == 3
    assert is_tls_failure(bx.SSLError(endpoint_url="x", error="bad cert"))


class FakeClocks:
    """A monotonic clock that stands still in a sleep, and boot time that does not."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.boot = 5000.0

    def run(self, seconds: float) -> None:
        self.mono += seconds
        self.boot += seconds

    def sleep(self, seconds: float) -> None:
        self.boot += seconds


def test_after_a_sleep_every_outage_probes_at_once_and_the_limit_counts_awake_time() -> None:
    clocks = FakeClocks()
    watch = SleepWatch(lambda: clocks.mono, lambda: clocks.boot)
    outages: Outages[str] = Outages(first=1.0, cap=30.0, max_wait=300.0, rng=lambda: 0.5)
    o = outages.wait("ep", "b", 1, "t1", "refused", now=clocks.mono)
    for _ in range(6):  # probes fail until the next one is 30 s away
        clocks.run(o.next_probe - clocks.mono)
        (probe,) = outages.take_due(clocks.mono)
        outages.probe_failed(probe, "refused", clocks.mono)
    assert o.retry_in(clocks.mono) == 30.0
    clocks.run(0.5)
    clocks.boot += 0.3  # the clocks drift apart a little: not a sleep
    assert watch.slept() == 0.0
    clocks.sleep(600)  # the lid is closed for ten minutes
    clocks.run(0.2)
    assert watch.slept() == 600.0 and watch.slept() == 0.0  # counted once
    assert outages.woke(clocks.mono) == 1
    assert [p.key for p in outages.take_due(clocks.mono)] == ["ep"]  # at once, not in 30 s
    # The sleep does not count towards the give-up limit (300 s of waiting):
    # the network could not be tried while asleep; no mass give-up on waking.
    assert clocks.mono - o.since < 100 and not outages.expired(o, clocks.mono)
