"""Pacing of content-creating requests (GitHub's secondary rate limits).

GitHub allows about 80 content-creating requests a minute per App and frowns
on bursts; a token bucket per process keeps tickborg well under that, and
GitHub's own rate-limit answer pauses it until the time GitHub gives. The
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
    concurrent writers are spaced out instead of all waking at once. A bucket
    updated in the future is paused until then (`paused`).
    """
    start = max(now, bucket.updated)
    refilled = min(float(burst), bucket.tokens + (start - bucket.updated) * rate)
    left = refilled - 1
    return Bucket(left, start), (start - now) + (0.0 if left >= 0 else -left / rate)


def paused(bucket: Bucket, until: float) -> Bucket:
    """No write before `until`, and none saved up for then: after GitHub's own
    rate-limit answer the writes resume one interval apart, not in a burst."""
    if until <= bucket.updated:
        return bucket
    return Bucket(min(bucket.tokens, 0.0), until)


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

    def pause_until(self, until: float) -> None:
        """GitHub said to wait (a 403/429 rate limit): every write of this process waits."""
        if self._rate <= 0:
            return
        with self._lock:
            self._bucket = paused(self._bucket, until)
        log.warning("github writes paused by a rate limit", seconds=round(max(0.0, until - self._clock()), 1))
