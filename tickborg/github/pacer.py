"""Pacing of content-creating requests (GitHub's secondary rate limits).

GitHub allows an App about 80 content-creating requests a minute and 500 an
hour, and frowns on bursts. Two token buckets keep tickborg under both: one
refills at `rate` a second up to `burst`, the other at `per_hour` an hour up to
that many; a write waits until both allow it. GitHub's own rate-limit answer
pauses the writes until the time GitHub gives. The status reporter is the
fleet's one writer, so its pacer is the App's. The bucket arithmetic is a pure
function; `WritePacer` adds the clock and sleep.
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
    """Blocks each write until both buckets allow it; `rate <= 0` turns pacing off,
    `per_hour` 0 the hourly bucket."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        per_hour: int = 0,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._per_hour = per_hour
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._bucket = Bucket(float(burst), clock())
        self._hourly = Bucket(float(per_hour), clock())

    def wait(self) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            now = self._clock()
            self._bucket, delay = take(self._bucket, now, self._rate, self._burst)
            if self._per_hour > 0:
                self._hourly, hourly_delay = take(self._hourly, now, self._per_hour / 3600, self._per_hour)
                delay = max(delay, hourly_delay)
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
