"""Connecting to RabbitMQ: parameters from config, backoff between attempts."""

from __future__ import annotations

import random
import ssl
from typing import Any

import pika

from tickborg.config import RabbitMQConfig

JSON = "application/json"
PERSISTENT = pika.DeliveryMode.Persistent

# What a lost or refused broker connection looks like to pika's blocking adapter.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.ConnectionClosed,
    pika.exceptions.StreamLostError,
    pika.exceptions.ChannelWrongStateError,
    ConnectionError,
)


def connection_parameters(config: RabbitMQConfig, name: str = "tickborg") -> pika.ConnectionParameters:
    ssl_options = pika.SSLOptions(ssl.create_default_context(), config.host) if config.ssl else None
    return pika.ConnectionParameters(
        host=config.host,
        port=config.port,
        virtual_host=config.virtualhost,
        credentials=pika.PlainCredentials(config.username, config.password.value),
        heartbeat=config.heartbeat_seconds,
        ssl_options=ssl_options,
        blocked_connection_timeout=300,
        connection_attempts=1,
        client_properties={"connection_name": name},
    )


def connect(config: RabbitMQConfig, name: str = "tickborg") -> pika.BlockingConnection:
    return pika.BlockingConnection(connection_parameters(config, name))


def properties(
    message_id: str | None = None, headers: dict[str, Any] | None = None, expiration: str | None = None
) -> pika.BasicProperties:
    """Every tickborg message is persistent JSON (SPEC §2)."""
    return pika.BasicProperties(
        content_type=JSON,
        delivery_mode=PERSISTENT,
        message_id=message_id,
        headers=headers,
        expiration=expiration,
    )


def copy_properties(
    original: pika.BasicProperties, headers: dict[str, Any], expiration: str | None = None
) -> pika.BasicProperties:
    """A republished copy (retry, dead letter, replay): the original's content
    type and message id, persistent, with new headers."""
    copy = properties(original.message_id, headers, expiration)
    copy.content_type = original.content_type or JSON
    return copy


def backoff_seconds(attempt: int, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with full jitter: attempt 1 waits up to `base`."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
