"""Reading a `/metrics` page as Prometheus would, and waiting for the stats process to consume."""

from __future__ import annotations

import urllib.request

import pika
from prometheus_client.parser import text_string_to_metric_families

from support.runtime import Broker
from tickborg.topology import STATS_EVENTS

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of the exposition at `url`, by (name, labels)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return samples(response.read().decode())


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist (yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


def stats_consuming(broker: Broker) -> bool:
    """Whether a stats process consumes `stats-events` (declared by it, so maybe not yet)."""
    try:
        return broker.channel.queue_declare(STATS_EVENTS, passive=True).method.consumer_count > 0
    except pika.exceptions.ChannelClosedByBroker:
        broker.channel = broker.connection.channel()
        return False
