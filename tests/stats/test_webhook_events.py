"""The receiver reports each verified delivery as `webhook-received`; a forged one is no webhook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests
from stats_support import received_events
from support.rabbit import free_port
from support.receiving import WEBHOOK_SECRET, private_file, webhook_receiver
from support.runtime import Broker
from support.webhooks import load_webhook

from tickborg.broker import declare
from tickborg.config import Config, RabbitMQConfig
from tickborg.messages import Event
from tickborg.topology import STATS_EVENTS, build_topology


def test_verified_deliveries_are_counted_by_event(
    rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    secret = private_file(tmp_path / "webhook-secret", WEBHOOK_SECRET)
    listen = f"127.0.0.1:{free_port()}"
    config = make_config(rabbitmq_config, github_webhook_receiver={"listen": listen, "webhook_secret_file": str(secret)})
    with Broker(rabbitmq_config) as broker:
        declare(broker.channel, build_topology(config).select([STATS_EVENTS]))
        with webhook_receiver(config) as post:
            forged = requests.post(
                f"http://{listen}/", data=b"{}", timeout=10,
                headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64},
            )
            assert forged.status_code == 403
            post("pull_request", load_webhook("pull_request.opened", "tick-org/monorepo"))
            post("ping", load_webhook("ping"))
        messages = received_events(broker, 2)
    assert {m.sender for m in messages} == {"test-node/github-webhook-receiver"}
    assert [e for m in messages for e in m.events] == [Event("webhook-received", "pull_request"), Event("webhook-received", "ping")]
