"""Fixtures for the GitHub integration tests: the fake GitHub, App keys, clients."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tickborg.fakegithub import FakeGitHub, ManualClock
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_INSTALLATION, TEST_REPO, app_config
from tickborg.github.client import GitHubClient


@pytest.fixture
def clock() -> ManualClock:
    # A fixed start keeps rate-limit reset times exact; JWTs and tokens use this clock too.
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def client_for(github_app_key: AppKeyPair, clock: ManualClock) -> Any:
    """`client_for(fake, **config overrides, renew_margin=...)`: a client on the manual clock."""
    clients: list[GitHubClient] = []

    def make(fake: FakeGitHub, renew_margin: float = 300.0, **overrides: Any) -> GitHubClient:
        config = app_config(fake, github_app_key, **overrides)
        client = GitHubClient.from_config(config, clock=clock, sleep=clock.sleep, renew_margin=renew_margin)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def timed_fake(fake_github_factory: Callable[..., FakeGitHub], clock: ManualClock) -> FakeGitHub:
    """A fake on the manual clock with TEST_REPO on TEST_INSTALLATION and one commit."""
    fake = fake_github_factory(clock=clock)
    fake.state.add_repo(TEST_REPO, installation_id=TEST_INSTALLATION)
    fake.state.add_commits(TEST_REPO, "a" * 40)
    return fake
