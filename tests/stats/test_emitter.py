"""The emitter: events reach the `stats` exchange; nothing it meets ever blocks or fails the caller."""

from __future__ import annotations

import time
from collections.abc import Callable

import pika
import structlog
from stats_support import received_events
from support.process import wait_until
from support.rabbit import PrivateNode, free_port
from support.runtime import Broker

from tickborg.broker import declare
from tickborg.config import Config, RabbitMQConfig, Secret
from tickborg.messages import Event
from tickborg.publisher import Publisher
from tickborg.stats.emitter import StatsEmitter, emitting, stats_emitter
from tickborg.topology import STATS, STATS_EVENTS, build_topology

# Well past anything the emitter does per call, yet far below a blocked call.
CALLS_TAKE_AT_MOST = 5.0


def _stats_queue(config: Config) -> None:
    """What the stats process declares: the `stats-events` queue bound to the exchange."""
    with Broker(config.rabbitmq) as broker:
        declare(broker.channel, build_topology(config).select([STATS_EVENTS]))


def _unstarted(config: Config, **options: float) -> StatsEmitter:
    publisher = Publisher(config.rabbitmq, build_topology(config).select(()), STATS, "test stats", 10, 1.0)
    return StatsEmitter(publisher, "test-node/test", **options)  # type: ignore[arg-type]


def _emit_many(emit: Callable[[Event], None], count: int) -> float:
    started = time.monotonic()
    for n in range(count):
        emit(Event.of("dead-lettered", f"queue-{n}"))
    return time.monotonic() - started


def test_events_reach_the_stats_exchange_as_event_messages(rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> None:
    config = make_config(rabbitmq_config)
    _stats_queue(config)
    with emitting(config, "mass-rebuilder") as emit, Broker(rabbitmq_config) as broker:
        emit(Event.of("job-received"))
        emit(Event.of("evaluation-duration", "main", 12))
        emit(Event.of("build-finished", "x86_64-linux", "Success"))
        messages = received_events(broker, 3)
    assert {m.sender for m in messages} == {"test-node/mass-rebuilder"}
    assert [e for m in messages for e in m.events] == [
        Event("job-received"), Event("evaluation-duration", ("main", 12)), Event("build-finished", ("x86_64-linux", "Success")),
    ]
    assert emit.dropped == 0


def test_events_queued_at_shutdown_are_still_sent(rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> None:
    config = make_config(rabbitmq_config)
    _stats_queue(config)
    emitter = stats_emitter(config, "builder")
    emitter.start()
    wait_until(lambda: emitter.connected)
    for _ in range(250):
        emitter(Event.of("job-received"))
    emitter.stop()
    with Broker(rabbitmq_config) as broker:
        messages = received_events(broker, 250)
    assert len(messages) >= 3  # batches of at most 100
    assert emitter.dropped == 0


def test_a_full_queue_drops_and_counts_without_blocking(rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> None:
    # Not started: nothing drains the queue.
    emitter = _unstarted(make_config(rabbitmq_config), capacity=10)
    with structlog.testing.capture_logs() as logs:
        assert _emit_many(emitter, 5000) < CALLS_TAKE_AT_MOST
    assert emitter.dropped == 4990
    # Logged once in a while, not once per event.
    assert [entry["dropped"] for entry in logs if entry["event"] == "stats events dropped"] == [1]


def test_no_broker_at_all_drops_and_counts(make_config: Callable[..., Config]) -> None:
    nobody = RabbitMQConfig(host="127.0.0.1", port=free_port(), password=Secret("guest", "test"), retry_base_seconds=0.1)
    emitter = _unstarted(make_config(nobody), capacity=100, patience=0.2)
    emitter.start()
    try:
        assert _emit_many(emitter, 1000) < CALLS_TAKE_AT_MOST
        wait_until(lambda: emitter.dropped == 1000, timeout=30)
    finally:
        emitter.stop()


def test_a_stopped_broker_drops_and_counts_then_events_flow_again(private_node: PrivateNode, make_config: Callable[..., Config]) -> None:
    rabbitmq = RabbitMQConfig(
        host="127.0.0.1", port=private_node.port, password=Secret("guest", "test"), retry_base_seconds=0.2, retry_cap_seconds=1.0
    )
    config = make_config(rabbitmq)
    _stats_queue(config)
    emitter = _unstarted(config, patience=0.5)
    emitter.start()
    try:
        wait_until(lambda: emitter.connected)
        private_node.stop()
        assert _emit_many(emitter, 2000) < CALLS_TAKE_AT_MOST
        wait_until(lambda: emitter.dropped == 2000, timeout=60)
        private_node.start()
        wait_until(lambda: emitter.connected, timeout=60)
        emitter(Event.of("job-received"))
        with Broker(rabbitmq) as broker:
            assert [m.events for m in received_events(broker, 1)] == [(Event("job-received"),)]
    finally:
        emitter.stop()
    assert emitter.dropped == 2000


def test_the_broker_drops_events_nobody_collects(rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> None:
    """Without a stats process no queue fills up: only the exchange is declared."""
    config = make_config(rabbitmq_config)
    with emitting(config, "push-filter") as emit:
        wait_until(lambda: emit.connected)
        emit(Event.of("job-received"))
        time.sleep(1)  # the event's confirm: the broker took it and routed it nowhere
        assert emit.dropped == 0
    with Broker(rabbitmq_config) as broker:
        try:
            broker.channel.queue_declare(STATS_EVENTS, passive=True)
            raise AssertionError("stats-events was declared")
        except pika.exceptions.ChannelClosedByBroker as exc:
            assert exc.reply_code == 404
