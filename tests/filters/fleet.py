"""A fleet for an end-to-end filter test: the config file, a broker connection, the receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.process import tickborg_process
from support.receiving import Post
from support.runtime import Broker
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.topology import dead_queue

GARBAGE = b"\xff not a webhook"


class Fleet:
    """The config file, a broker connection with the whole topology declared,
    and the receiver, for one test."""

    def __init__(self, config_path: Path, broker: Broker, post: Post, tmp_path: Path) -> None:
        self.config_path = config_path
        self.broker = broker
        self.post = post
        self.tmp_path = tmp_path

    def run(self, name: str) -> Any:
        return tickborg_process(name, self.config_path, self.tmp_path / f"{name}.log")

    def message(self, queue: str) -> Any:
        return json.loads(self.broker.get(queue, timeout=30)[1])

    def assert_garbage_dead_lettered(self, queue: str) -> None:
        props, raw = self.broker.get(dead_queue(queue), timeout=30)
        assert raw == GARBAGE
        assert props.headers[DEAD_REASON_HEADER].startswith("decode failure")
