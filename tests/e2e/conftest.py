"""Fixtures for the end-to-end tests: the whole fleet (see tests/support/whole_fleet.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from support.whole_fleet import Flow, running_flow
from tickborg.config import RabbitMQConfig
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair


@pytest.fixture
def flow(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> Iterator[Flow]:
    with running_flow(rabbitmq_config, tmp_path, fake_github, github_app_key) as running:
        yield running
