"""Verdicts owed to deliveries whose channel died before they could be settled.

When a job's own publish makes the broker close the channel (a missing
exchange, say), the delivery cannot be acked or retried on that channel: the
broker takes it back and redelivers it. Run again, the job would hit the same
wall, and the consumer would loop without bound. Instead the runtime remembers
the verdict (retry later) under the message's fingerprint, and settles its
redelivery with it at once: one failed attempt, counted, as any other.

In-process memory only: a process that dies forgets, and its redeliveries are
counted by the broker (the `redelivered` flag, a quorum queue's delivery count).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from tickborg.runtime.actions import Action
from tickborg.runtime.retry import ATTEMPT_HEADER

# Far more than can be in flight at once; the oldest are forgotten first.
LIMIT = 1000


def fingerprint(queue: str, body: bytes, headers: dict[str, Any] | None) -> str:
    """Names one copy of a message: a retry copy (another attempt) differs from its original."""
    digest = hashlib.sha256(body)
    digest.update(f"\0{queue}\0{(headers or {}).get(ATTEMPT_HEADER)!r}".encode())
    return digest.hexdigest()


class Unsettled:
    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._verdicts: OrderedDict[str, Action] = OrderedDict()

    def remember(self, key: str, verdict: Action) -> None:
        self._verdicts[key] = verdict
        while len(self._verdicts) > self._limit:
            self._verdicts.popitem(last=False)

    def take(self, key: str) -> Action | None:
        return self._verdicts.pop(key, None)
