"""Operator tools: check-config, topology, dead-letters."""

from __future__ import annotations

import pika

from tickborg.broker import CONNECTION_ERRORS, connect
from tickborg.config import RabbitMQConfig
from tickborg.logsetup import get_logger


def connect_or_report(rabbitmq: RabbitMQConfig, name: str) -> pika.BlockingConnection | None:
    """A connection, or None after logging why there is none (the tool then exits 1)."""
    try:
        return connect(rabbitmq, name)
    except CONNECTION_ERRORS as exc:
        get_logger(__name__).error("cannot reach RabbitMQ", nodes=rabbitmq.address, error=repr(exc))
        return None
