"""Pacing of content-creating requests (GitHub's secondary rate limits).

GitHub allows about 80 content-creating requests a minute per App and frowns
on bursts; a token bucket per process keeps tickborg well under that. The
bucket arithmetic is a pure function; `WritePacer` adds the clock and sleep.
"""

from __future__ import annotations

import threading
from typing import Callable

import attrs

from tickborg.logsetup import get_logger

log = get_logger(__name__)


@attrs.frozen
class Bucket:
    tokens: float
    updated: float  # epoch seconds of the last refill


def take(bucket: Bucket, now: float, rate: float, burst: int) -> tuple[Bucket, float]:
    """Reserve one write: the new bucket and how many seconds to wait before sending.

    Tokens may go negative: each waiting writer has reserved its own slot, so
    concurrent writers are spaced out instead of all waking at once.
    """
    refilled = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * rate)
    left = refilled - 1
    return Bucket(left, now), (0.0 if left >= 0 else -left / rate)


class WritePacer:
    """Blocks each write until the bucket allows it; `rate <= 0` turns pacing off."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._bucket = Bucket(float(burst), clock())

    def wait(self) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            self._bucket, delay = take(self._bucket, self._clock(), self._rate, self._burst)
        if delay > 0:
            log.debug("github write paced", wait_seconds=round(delay, 3))
            self._sleep(delay)
