"""One bandwidth limit shared by every worker, changeable while running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class RateLimiter:
    """A token bucket. `consume` blocks the calling worker until its bytes fit
    under the rate; `rate=0` means unlimited. Waiting wakes on `cancel` so a
    paused transfer does not sit out its turn."""

    def __init__(self, rate: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rate = rate
        self._tokens = 0.0
        self._stamp = clock()
        self._moved = 0  # every byte that went through, limited or not

    @property
    def moved(self) -> int:
        """Bytes handed to the network so far, re-sends included: the
        adaptive concurrency measures throughput from this monotonic count
        (progress counters jump back on retries and at part boundaries)."""
        return self._moved

    def count(self, n: int) -> None:
        with self._lock:
            self._moved += n

    @property
    def rate(self) -> int:
        return self._rate

    def set_rate(self, rate: int) -> None:
        with self._lock:
            self._rate = max(0, int(rate))
            self._tokens = 0.0
            self._stamp = self._clock()

    def consume(self, n: int, cancel: Any = None) -> None:  # an Event or a body.Flag
        while True:
            with self._lock:
                if self._rate <= 0:
                    return
                now = self._clock()
                # Allow a burst of a quarter second, no more.
                self._tokens = min(self._tokens + (now - self._stamp) * self._rate,
                                   self._rate / 4)
                self._stamp = now
                if self._tokens >= 0:
                    self._tokens -= n  # may go negative: later callers wait it off
                    return
                wait = -self._tokens / self._rate
            if cancel is not None:
                if cancel.wait(min(wait, 0.2)):
                    return  # the caller checks the event and raises
            else:
                time.sleep(min(wait, 0.2))
