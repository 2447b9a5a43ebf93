"""Fixtures for the fault suite: the whole fleet with its accounting ledger (see fault_fleet.py)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator, Sequence

import attrs
import pytest

from fault_fleet import FaultFleet, StartFleet, fault_fleet
from support.whole_fleet import PROCESSES
from tickborg.config import RabbitMQConfig
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair


@pytest.fixture
def start_fleet(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> Iterator[StartFleet]:
    """`start(processes=PROCESSES, **settings)`: the fleet on this test's vhost, its
    rabbitmq section changed by `settings` (delivery_limit, retry_base_seconds, ...);
    stopped at teardown."""
    with ExitStack() as stack:

        def start(processes: Sequence[str] = PROCESSES, **settings: Any) -> FaultFleet:
            config = attrs.evolve(rabbitmq_config, **settings)
            return stack.enter_context(fault_fleet(config, tmp_path, fake_github, github_app_key, processes))

        yield start


@pytest.fixture
def fleet(start_fleet: StartFleet) -> FaultFleet:
    """The fleet on this test's vhost with the standard test settings."""
    return start_fleet()
