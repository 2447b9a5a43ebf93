"""Fixtures of the end-to-end filter tests: fleets with the receiver, and with the fake GitHub."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from fleet import Fleet
from support.config import base_config_data
from support.rabbit import free_port
from support.receiving import WEBHOOK_SECRET, private_file, webhook_receiver
from support.runtime import Broker
from tickborg.broker import declare
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID
from tickborg.topology import build_topology


@pytest.fixture
def make_fleet(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path
) -> Iterator[Callable[..., Fleet]]:
    brokers: list[Broker] = []

    def make(**overrides: Any) -> Fleet:
        secret = private_file(tmp_path / "webhook-secret", WEBHOOK_SECRET)
        receiver = {"listen": f"127.0.0.1:{free_port()}", "webhook_secret_file": str(secret)}
        data = base_config_data(rabbitmq_config, github_webhook_receiver=receiver, **overrides)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(data))
        config = load_config(path)
        broker = Broker(config.rabbitmq)
        brokers.append(broker)
        declare(broker.channel, build_topology(config))  # so the test can read every output queue
        post = stack.enter_context(webhook_receiver(config))
        return Fleet(path, broker, post, tmp_path)

    with ExitStack() as stack:
        yield make
    for broker in brokers:
        broker.close()


@pytest.fixture
def github_fleet(
    make_fleet: Callable[..., Fleet], fake_github: FakeGitHub, github_app_key: AppKeyPair, tmp_path: Path
) -> Fleet:
    key = private_file(tmp_path / "app.pem", github_app_key.private_pem)
    app = {"app_id": TEST_APP_ID, "private_key_file": str(key), "api_url": fake_github.url, "timeout_seconds": 5}
    return make_fleet(github_app=app)
