"""What the redelivery tests' `setup` fixture makes, and what they ask of it (a helper
module: conftest is not importable by name)."""

from __future__ import annotations

from pathlib import Path

import attrs

from support.receiving import receiver_healthy
from support.runtime import declare_fleet
from tickborg.cli import main as cli
from tickborg.config import Config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.sender import Delivery


@attrs.frozen
class Setup:
    path: Path
    config: Config
    hook_url: str  # where the receiver listens once started: nothing listens before

    def declare_topology(self) -> None:
        declare_fleet(self.config)

    def receiver_is_healthy(self) -> bool:
        return receiver_healthy(self.hook_url)


def redeliver(setup: Setup, *options: str) -> int:
    """One `tickborg redeliver-webhooks` run with the setup's config; its exit status."""
    return cli(["redeliver-webhooks", "--config", str(setup.path), *options])


def attempts(fake: FakeGitHub) -> list[Delivery]:
    """Every delivery attempt the fake GitHub made, first sends and redeliveries."""
    return fake.state.hooks.deliveries()


def requests_made(fake: FakeGitHub) -> int:
    """Redeliveries asked of the fake GitHub."""
    return len(fake.calls_to("POST", "/attempts"))
