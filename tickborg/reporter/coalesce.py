"""Check-run writes a later one makes pointless are skipped; one writer per run at a time.

A build that finishes within `delay` seconds of its start would show
`in_progress` for less time than anyone could look: its start's write is held
that long and dropped when the result comes meanwhile (queued, then completed:
2 writes instead of 3). The reporter handles messages side by side for this,
so each run's read-plan-write goes under that run's lock, or two messages
about one run could both create it, or move a completed run back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import ContextManager, Hashable, Iterator, TypeVar

# Results remembered, oldest forgotten first: far more than are in flight at once.
REMEMBERED_RESULTS = 10_000
LOCK_STRIPES = 64
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def remember(memory: OrderedDict[K, V], key: K, value: V, size: int) -> None:
    """Keep `value` under `key`; past `size` keys, the least recently kept is forgotten."""
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > size:
        memory.popitem(last=False)


class StripedLocks:
    """A lock per key, from a fixed set: bounded, and keys rarely share a stripe."""

    def __init__(self, stripes: int = LOCK_STRIPES) -> None:
        self._locks = tuple(threading.Lock() for _ in range(stripes))

    @contextmanager
    def holding(self, key: Hashable) -> Iterator[None]:
        with self._locks[hash(key) % len(self._locks)]:
            yield


class RunWrites:
    def __init__(self, delay: float, locks: StripedLocks, remembered: int = REMEMBERED_RESULTS) -> None:
        self._delay = delay
        self._remembered = remembered
        self._results: OrderedDict[Hashable, None] = OrderedDict()
        self._came = threading.Condition()
        self._locks = locks

    def result_came(self, key: Hashable) -> None:
        """The build of `key` has a result: a start of it still held writes nothing."""
        with self._came:
            remember(self._results, key, None, self._remembered)
            self._came.notify_all()

    def start_superseded(self, key: Hashable) -> bool:
        """Wait up to the delay for `key`'s result; whether it came."""
        with self._came:
            return self._came.wait_for(lambda: key in self._results, timeout=self._delay)

    def writing(self, run: Hashable) -> ContextManager[None]:
        return self._locks.holding(run)
