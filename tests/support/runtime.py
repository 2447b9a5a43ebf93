"""Helpers for runtime tests: a two-queue topology and broker plumbing."""

from __future__ import annotations

import json
import threading
from typing import Any, Iterator

import pika

from tickborg.broker import connection_parameters, declare, properties
from tickborg.config import Config, RabbitMQConfig
from tickborg.runtime.consumer import Runner
from tickborg.runtime.worker import AnyWorker
from tickborg.topology import Queue, Topology, build_topology, failure_paths, work_queue


def declare_fleet(config: Config) -> None:
    """Every exchange and queue of the fleet, as `tickborg topology` declares them, so
    the queues exist before anything publishes or a test looks at one. On a short
    connection of its own: one held idle through a long outage would miss its heartbeats."""
    with Broker(config.rabbitmq) as broker:
        declare(broker.channel, build_topology(config))


def runtime_topology(config: Config) -> Topology:
    """Work queue `in` (with its retry and dead-letter paths) and a plain `out`."""
    rabbit = config.rabbitmq
    inbound = work_queue("in", rabbit.legacy_queues, rabbit.delivery_limit)
    failures = failure_paths([inbound], rabbit.legacy_queues)
    return Topology(failures.exchanges, (inbound, Queue("out", is_work_queue=False), *failures.queues), failures.bindings)


class Broker:
    """A plain pika connection for the test's own publishing and reading."""

    def __init__(self, rabbitmq: RabbitMQConfig) -> None:
        self.connection = pika.BlockingConnection(connection_parameters(rabbitmq, "test"))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def send(self, queue: str, message: dict[str, Any] | bytes, headers: dict[str, Any] | None = None) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.channel.basic_publish("", queue, body, properties(headers=headers), mandatory=True)

    def get(self, queue: str, timeout: float = 10.0) -> tuple[pika.BasicProperties, bytes]:
        """The next message of `queue` (acked), waiting up to `timeout`.

        Taken by a consumer, not `basic.get`: a quorum queue with a single active
        consumer (build-results) refuses `basic.get`. One message at a time
        (prefetch 1, cancelled before the ack), so no other is handed out and
        returned, which would count against its delivery limit.
        """
        channel = self.connection.channel()
        try:
            channel.basic_qos(prefetch_count=1)
            for method, props, body in channel.consume(queue, inactivity_timeout=timeout):
                if method is None:
                    break
                channel.cancel()
                channel.basic_ack(method.delivery_tag)
                return props, body
        finally:
            channel.close()
        raise AssertionError(f"no message on {queue!r} within {timeout} s")

    def count(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


class RunningWorker:
    """A Runner in a background thread of the test process."""

    def __init__(
        self,
        worker: AnyWorker,
        config: Config,
        queues: tuple[str, ...] = ("in",),
        topology: Topology | None = None,
        prefetch: int = 1,
    ) -> None:
        topology = topology or runtime_topology(config)
        self.runner = Runner(worker, queues, config.rabbitmq, topology, config.identity, prefetch)
        self.thread = threading.Thread(target=self.runner.run, daemon=True)

    def __enter__(self) -> RunningWorker:
        self.thread.start()
        assert self.runner.connected.wait(20), "worker did not connect"
        return self

    def __exit__(self, *_: Any) -> None:
        self.runner.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "worker did not stop"


def drain(broker: Broker, queue: str) -> Iterator[bytes]:
    while True:
        method, _, body = broker.channel.basic_get(queue, auto_ack=True)
        if method is None:
            return
        yield body
