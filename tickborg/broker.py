"""Connecting to RabbitMQ: parameters from config, message properties, declaring a topology."""

from __future__ import annotations

import ssl
from typing import Any

import pika

from tickborg.config import RabbitMQConfig
from tickborg.topology import Topology

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


def connection_parameters(config: RabbitMQConfig, name: str = "tickborg") -> list[pika.ConnectionParameters]:
    """One set of parameters per node, in the order they are tried (SPEC §13)."""
    return [
        pika.ConnectionParameters(
            host=node.host,
            port=node.port,
            virtual_host=config.virtualhost,
            credentials=pika.PlainCredentials(config.username, config.password.value),
            heartbeat=config.heartbeat_seconds,
            ssl_options=pika.SSLOptions(ssl.create_default_context(), node.host) if config.ssl else None,
            blocked_connection_timeout=300,
            connection_attempts=1,
            client_properties={"connection_name": name},
        )
        for node in config.nodes
    ]


def connect(config: RabbitMQConfig, name: str = "tickborg") -> pika.BlockingConnection:
    """A connection to the first node that answers; the next connect after its
    node goes fails over to the others."""
    return pika.BlockingConnection(connection_parameters(config, name))


def properties(message_id: str | None = None, headers: dict[str, Any] | None = None) -> pika.BasicProperties:
    """Every tickborg message is persistent JSON (SPEC §2)."""
    return pika.BasicProperties(
        content_type=JSON,
        delivery_mode=PERSISTENT,
        message_id=message_id,
        headers=headers,
    )


def copy_properties(original: pika.BasicProperties, headers: dict[str, Any]) -> pika.BasicProperties:
    """A republished copy (retry, dead letter, replay): the original's content
    type and message id, persistent, with new headers."""
    copy = properties(original.message_id, headers)
    copy.content_type = original.content_type or JSON
    return copy


class TopologyMismatch(Exception):
    """The broker refused a declaration: a queue or exchange exists with other
    arguments (say, classic queues of a legacy fleet where quorum ones are wanted)."""


def declare(channel: Any, topology: Topology) -> None:
    """Declare everything idempotently on a pika channel (blocking or asynchronous)."""
    try:
        _declare(channel, topology)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise TopologyMismatch(str(exc)) from None


def _declare(channel: Any, topology: Topology) -> None:
    for exchange in topology.exchanges:
        channel.exchange_declare(exchange.name, exchange_type=exchange.type, durable=True)
    for queue in topology.queues:
        channel.queue_declare(queue.name, durable=True, arguments=queue.arguments or None)
    for binding in topology.bindings:
        channel.queue_bind(
            binding.queue, binding.exchange, routing_key=binding.routing_key, arguments=binding.arguments
        )
