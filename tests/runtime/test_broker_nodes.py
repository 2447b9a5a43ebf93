"""Connecting to one of several nodes (`rabbitmq.hosts`), and starting over after a nack.

Against the machine's broker, with a node that does not answer listed before
it: consumers and tools connect to the first node that answers; the
asynchronous publisher goes round the nodes until one does. A nacked publish
fails its future, and the publisher leaves that channel for a new connection
(RabbitMQ 3.10 can go on nacking on a channel after a quorum leader change),
so the next publish is confirmed.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Iterator

import attrs
import pytest

from support.process import wait_until
from support.rabbit import SHARED_HOST, SHARED_PORT, free_port
from support.runtime import Broker
from tickborg.broker import connect
from tickborg.config import BrokerNode, RabbitMQConfig
from tickborg.publisher import Message, Nacked, Publisher
from tickborg.topology import Queue, Topology

TOPOLOGY = Topology((), (Queue("out", is_work_queue=False),), ())


@pytest.fixture
def two_nodes(rabbitmq_config: RabbitMQConfig) -> RabbitMQConfig:
    """A node that refuses connections, then the machine's broker."""
    nodes = (BrokerNode("127.0.0.1", free_port()), BrokerNode(SHARED_HOST, SHARED_PORT))
    return attrs.evolve(rabbitmq_config, host=nodes[0].host, port=nodes[0].port, hosts=nodes)


@pytest.fixture
def publisher(two_nodes: RabbitMQConfig) -> Iterator[Publisher]:
    publisher = Publisher(two_nodes, TOPOLOGY, "", "test", max_unconfirmed=100, confirm_overdue=10)
    publisher.start()
    yield publisher
    publisher.stop()


def test_a_connection_goes_to_the_first_node_that_answers(two_nodes: RabbitMQConfig) -> None:
    connection = connect(two_nodes)
    try:
        assert connection.is_open
    finally:
        connection.close()


def test_the_publisher_goes_round_the_nodes_until_one_answers(
    publisher: Publisher, rabbitmq_config: RabbitMQConfig
) -> None:
    wait_until(lambda: publisher.ready, timeout=30)
    publisher.submit(Message("out", b"{}", "m-1")).result(timeout=10)
    with Broker(rabbitmq_config) as broker:
        assert broker.count("out") == 1


def test_after_a_nack_the_publisher_starts_over_and_the_next_publish_is_confirmed(
    publisher: Publisher, rabbitmq_config: RabbitMQConfig
) -> None:
    with Broker(rabbitmq_config) as broker:  # a queue that refuses everything: its publishes are nacked
        broker.channel.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    wait_until(lambda: publisher.ready, timeout=30)
    assert publisher.sessions_ready == 1
    refused: Future[None] = publisher.submit(Message("full", b"{}", "m-1"))
    with pytest.raises(Nacked):
        refused.result(timeout=10)
    wait_until(lambda: publisher.sessions_ready == 2, timeout=30)  # left the channel that nacked
    wait_until(lambda: publisher.ready, timeout=30)
    publisher.submit(Message("out", b"{}", "m-2")).result(timeout=10)
