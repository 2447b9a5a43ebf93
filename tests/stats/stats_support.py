"""Shared by the stats tests: the events on `stats-events`."""

from __future__ import annotations

from support.runtime import Broker

from tickborg.messages import EventMessage, decode
from tickborg.topology import STATS_EVENTS


def received_events(broker: Broker, count: int, timeout: float = 20.0) -> list[EventMessage]:
    """EventMessages from `stats-events` until they hold `count` events."""
    messages: list[EventMessage] = []
    while sum(len(m.events) for m in messages) < count:
        _, body = broker.get(STATS_EVENTS, timeout)
        messages.append(decode(EventMessage, body))
    return messages
