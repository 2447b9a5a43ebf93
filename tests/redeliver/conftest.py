"""Fixtures of the redelivery tests: a config whose receiver port and fake GitHub are known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from redeliver_setup import Setup
from support.config import base_config_data
from support.rabbit import free_port
from support.receiving import WEBHOOK_SECRET, private_file
from support.runtime import Broker
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID


@pytest.fixture
def make_setup(
    rabbitmq_config: RabbitMQConfig, github_app_key: AppKeyPair, tmp_path: Path
) -> Callable[..., Setup]:
    """`make(fake, rabbitmq=None, **github_app overrides)`: a config file for the receiver and
    the tool (on the shared broker's test vhost unless `rabbitmq` says otherwise), the fake's
    webhook pointed at the receiver's (not yet listening) port."""

    def make(fake: FakeGitHub, rabbitmq: RabbitMQConfig | None = None, **app: Any) -> Setup:
        secret = private_file(tmp_path / "webhook-secret", WEBHOOK_SECRET)
        key = private_file(tmp_path / "app.pem", github_app_key.private_pem)
        port = free_port()
        receiver = {"listen": f"127.0.0.1:{port}", "webhook_secret_file": str(secret)}
        github_app = {
            "app_id": TEST_APP_ID,
            "private_key_file": str(key),
            "api_url": fake.url,
            "timeout_seconds": 5,
            "writes_per_second": 0,
            **app,
        }
        data = base_config_data(rabbitmq or rabbitmq_config, github_webhook_receiver=receiver, github_app=github_app)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(data))
        hook_url = f"http://127.0.0.1:{port}/"
        fake.configure_hook(hook_url, WEBHOOK_SECRET)
        return Setup(path, load_config(path), hook_url)

    return make


@pytest.fixture
def setup(make_setup: Callable[..., Setup], fake_github: FakeGitHub) -> Setup:
    return make_setup(fake_github)


@pytest.fixture
def broker(setup: Setup) -> Iterator[Broker]:
    setup.declare_topology()
    with Broker(setup.config.rabbitmq) as broker:
        yield broker
