"""A clock that tests move by hand, shared by the client and the fake server."""

from __future__ import annotations

import threading
import time


class ManualClock:
    """Epoch seconds that only change when told to; `sleep` advances it instead of waiting."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    sleep = advance
