"""Capped exponential backoff with jitter: how long to wait before attempt N."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Attempt 1 waits between base/2 and base; each later one doubles, up to `cap`.

    The jitter spreads retries of many failed messages (or reconnects of many
    processes) so they do not hit a recovering service at the same instant.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
