"""A flood of dead letters cannot fill the broker's disk: each `{queue}.dead` keeps
at most DEAD_MAX_LENGTH letters, dropping the oldest (real broker, real queues)."""

from __future__ import annotations

import pika
import pytest

from support.config import base_config_data
from support.runtime import Broker, declare_fleet
from tickborg.config import RabbitMQConfig, parse_config
from tickborg.topology import BUILD_LOGS, DEAD_LETTER, DEAD_MAX_LENGTH, dead_queue

pytestmark = pytest.mark.broker


def test_a_dead_letter_flood_keeps_only_the_newest(rabbitmq_config: RabbitMQConfig) -> None:
    config = parse_config(base_config_data(rabbitmq_config))
    declare_fleet(config)
    flood = DEAD_MAX_LENGTH + 500
    with Broker(rabbitmq_config) as broker:
        channel = broker.connection.channel()  # no confirms: a flood, as dead-lettering is
        for number in range(flood):
            channel.basic_publish(DEAD_LETTER, BUILD_LOGS, str(number).encode(), pika.BasicProperties())
        # One channel's messages reach a queue in order: once the last is confirmed, all are in.
        channel.confirm_delivery()
        channel.basic_publish(DEAD_LETTER, BUILD_LOGS, b"last")
        channel.close()
        queue = dead_queue(BUILD_LOGS)
        assert broker.count(queue) == DEAD_MAX_LENGTH
        assert broker.get(queue)[1] == b"501"  # the oldest 501 dropped
