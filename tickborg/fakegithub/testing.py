"""pytest fixtures for tests that talk to the fake GitHub.

Reuse them from any test directory's conftest.py:

    from tickborg.fakegithub.testing import (  # noqa: F401  (pytest finds fixtures by name)
        fake_github, fake_github_factory, github_api_description, github_app_config,
        github_app_key, github_client,
    )

Every fake started through these fixtures fails its test at teardown when a
request departed from GitHub's API description.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Callable, Iterator

import pytest

from tickborg.config import GitHubAppConfig, Secret
from tickborg.fakegithub.apidesc import ApiDescription
from tickborg.fakegithub.keys import AppKeyPair, generate_app_key
from tickborg.fakegithub.server import FakeGitHub
from tickborg.github.client import GitHubClient

TEST_APP_ID = 4242
TEST_REPO = "tick-org/monorepo"
TEST_INSTALLATION = 77


@pytest.fixture(scope="session")
def github_app_key() -> AppKeyPair:
    return generate_app_key()


@pytest.fixture(scope="session")
def github_api_description() -> ApiDescription:
    return ApiDescription.packaged()


@pytest.fixture
def fake_github_factory(
    github_app_key: AppKeyPair, github_api_description: ApiDescription
) -> Iterator[Callable[..., FakeGitHub]]:
    """`start(**options)` → a running FakeGitHub (options as for `FakeGitHub`, e.g. clock,
    token_lifetime, path_prefix); each is stopped and checked for violations at teardown."""
    started: list[FakeGitHub] = []
    with ExitStack() as stack:

        def start(**options: Any) -> FakeGitHub:
            fake = stack.enter_context(
                FakeGitHub.start(
                    app_id=TEST_APP_ID,
                    public_key_pem=github_app_key.public_pem,
                    api_description=github_api_description,
                    **options,
                )
            )
            started.append(fake)
            return fake

        yield start
    violations = [violation for fake in started for violation in fake.violations]
    if violations:
        pytest.fail(
            "requests departed from GitHub's API description:\n  " + "\n  ".join(violations),
            pytrace=False,
        )


@pytest.fixture
def fake_github(fake_github_factory: Callable[..., FakeGitHub]) -> FakeGitHub:
    """A fake GitHub on the wall clock with TEST_REPO served by TEST_INSTALLATION."""
    fake = fake_github_factory()
    fake.state.add_repo(TEST_REPO, installation_id=TEST_INSTALLATION)
    return fake


def app_config(fake: FakeGitHub, key: AppKeyPair, **overrides: Any) -> GitHubAppConfig:
    """A `github_app` config section pointing at `fake`; writes unpaced unless overridden."""
    settings: dict[str, Any] = {
        "app_id": TEST_APP_ID,
        "private_key": Secret(key.private_pem, "test"),
        "api_url": fake.url,
        "timeout_seconds": 5.0,
        "writes_per_second": 0.0,
        **overrides,
    }
    return GitHubAppConfig(**settings)


@pytest.fixture
def github_app_config(fake_github: FakeGitHub, github_app_key: AppKeyPair) -> GitHubAppConfig:
    return app_config(fake_github, github_app_key)


@pytest.fixture
def github_client(github_app_config: GitHubAppConfig) -> Iterator[GitHubClient]:
    client = GitHubClient.from_config(github_app_config)
    yield client
    client.close()
