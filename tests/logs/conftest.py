"""The `make_log_fleet` fixture: a config file, a broker with the whole topology, a log root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from log_fleet import LogFleet
from support.config import base_config_data
from support.rabbit import free_port
from support.runtime import Broker
from tickborg.broker import declare
from tickborg.config import RabbitMQConfig, load_config
from tickborg.topology import build_topology


@pytest.fixture
def make_log_fleet(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> Iterator[Callable[..., LogFleet]]:
    brokers: list[Broker] = []

    def make(root: Path | None = None, **rabbitmq: Any) -> LogFleet:
        root = root or tmp_path / "logs"
        listen = f"127.0.0.1:{free_port()}"
        # A result waits for missing lines as long as the retries' cap (2 s), not for minutes.
        storage = {"path": str(root), "gap_wait_seconds": 2}
        data = base_config_data(rabbitmq_config, log_storage=storage, logapi={"listen": listen})
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
