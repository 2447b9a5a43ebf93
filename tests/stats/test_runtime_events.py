"""The runtime reports what happens to every delivery, for any worker, on the real broker."""

from __future__ import annotations

import threading
from collections.abc import Callable

from support.process import wait_until
from support.runtime import Broker, runtime_topology
from support.workers import ScriptedWorker

from tickborg.config import Config, RabbitMQConfig
from tickborg.messages import Event
from tickborg.runtime.consumer import Runner


def test_received_decoded_and_dead_lettered_deliveries_are_reported(
    rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]
) -> None:
    config = make_config(rabbitmq_config)
    events: list[Event] = []
    runner = Runner(ScriptedWorker(), ["in"], rabbitmq_config, runtime_topology(config), "node", events=events.append)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert runner.connected.wait(20)
        with Broker(rabbitmq_config) as broker:
            broker.send("in", {"id": "1", "do": "ack"})
            broker.send("in", b"garbage")
            broker.send("in", {"id": "2", "do": "dump"})
            wait_until(lambda: broker.count("in.dead") == 2)
    finally:
        runner.request_stop()
        thread.join(30)
    assert events == [
        Event("job-received"), Event("job-decode-success"),
        Event("job-received"), Event("job-decode-failure"), Event("dead-lettered", "in"),
        Event("job-received"), Event("job-decode-success"), Event("dead-lettered", "in"),
    ]
