"""A log fleet for one test: config file, broker with the topology, the log root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.process import tickborg_process
from support.runtime import Broker
from tickborg.broker import properties
from tickborg.topology import LOGS


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
