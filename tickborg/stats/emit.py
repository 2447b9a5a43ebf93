"""What a worker is given to report an event: a callable that never blocks or raises.

Pure code takes an `Emit` and defaults to `discard`, so it runs (and is tested)
without any broker; a process passes its `StatsEmitter`.
"""

from __future__ import annotations

from collections.abc import Callable

from tickborg.messages import Event

Emit = Callable[[Event], None]


def discard(event: Event) -> None:
    """The default: no metrics."""


def sender_of(identity: str, process: str) -> str:
    """Who an EventMessage is from: processes of one host share `identity`, so the process name is part of it."""
    return f"{identity}/{process}"
