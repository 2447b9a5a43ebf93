"""What the redelivery tests' `setup` fixture makes, and what they ask of it (a helper
module: conftest is not importable by name)."""

from __future__ import annotations

from pathlib import Path

import attrs
import requests

from support.runtime import Broker
from tickborg.broker import declare
from tickborg.cli import main as cli
from tickborg.config import Config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.sender import Delivery
from tickborg.topology import build_topology


@attrs.frozen
class Setup:
    path: Path
    config: Config
    hook_url: str  # where the receiver listens once started: nothing listens before

    def declare_topology(self) -> None:
        """The queues exist before the receiver publishes (on a short connection of its own:
        one held idle through a minute-long outage would miss its heartbeats)."""
        with Broker(self.config.rabbitmq) as broker:
            declare(broker.channel, build_topology(self.config))

    def receiver_is_healthy(self) -> bool:
        try:
            return requests.get(f"{self.hook_url}health", timeout=5).status_code == 200
        except requests.ConnectionError:  # not listening yet
            return False


def redeliver(setup: Setup, *options: str) -> int:
    """One `tickborg redeliver-webhooks` run with the setup's config; its exit status."""
    return cli(["redeliver-webhooks", "--config", str(setup.path), *options])


def attempts(fake: FakeGitHub) -> list[Delivery]:
    """Every delivery attempt the fake GitHub made, first sends and redeliveries."""
    return fake.state.hooks.deliveries()


def requests_made(fake: FakeGitHub) -> int:
    """Redeliveries asked of the fake GitHub."""
    return len(fake.calls_to("POST", "/attempts"))
