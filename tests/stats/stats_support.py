"""Shared by the stats tests: reading `/metrics` and the events on `stats-events`."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from support.runtime import Broker
from tickborg.messages import EventMessage, decode
from tickborg.topology import STATS_EVENTS


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition at `url`, by (name, labels)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return samples(text)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist (yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


def received_events(broker: Broker, count: int, timeout: float = 20.0) -> list[EventMessage]:
    """EventMessages from `stats-events` until they hold `count` events."""
    messages: list[EventMessage] = []
    while sum(len(m.events) for m in messages) < count:
        _, body = broker.get(STATS_EVENTS, timeout)
        messages.append(decode(EventMessage, body))
    return messages
