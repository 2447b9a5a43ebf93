"""A log fleet for one test: config file, broker with the topology, the log root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from support.config import base_config_data
from support.process import tickborg_process
from support.rabbit import free_port
from support.runtime import Broker
from tickborg.broker import declare, properties
from tickborg.config import RabbitMQConfig, load_config
from tickborg.topology import LOGS, build_topology


class LogFleet:
    def __init__(self, config_path: Path, broker: Broker, root: Path, listen: str, tmp_path: Path) -> None:
        self.config_path = config_path
        self.broker = broker
        self.root = root
        self.listen = listen
        self.tmp_path = tmp_path

    def run(self, name: str) -> Any:
        return tickborg_process(name, self.config_path, self.process_log(name))

    def process_log(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def publish(self, key: str, raw: bytes) -> None:
        """As a builder does: to the `logs` exchange, routed by the log key."""
        self.broker.channel.basic_publish(LOGS, key, raw, properties(), mandatory=True)


@pytest.fixture
def make_log_fleet(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> Iterator[Callable[..., LogFleet]]:
    brokers: list[Broker] = []

    def make(root: Path | None = None, **rabbitmq: Any) -> LogFleet:
        root = root or tmp_path / "logs"
        listen = f"127.0.0.1:{free_port()}"
        data = base_config_data(rabbitmq_config, log_storage={"path": str(root)}, logapi={"listen": listen})
        data["rabbitmq"].update(rabbitmq)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(data))
        broker = Broker(load_config(path).rabbitmq)
        brokers.append(broker)
        declare(broker.channel, build_topology(load_config(path)))
        return LogFleet(path, broker, root, listen, tmp_path)

    yield make
    for broker in brokers:
        broker.close()
