"""pytest fixtures for tests that talk to the fake GitHub, and webhook payload loading.

Reuse them from any test directory's conftest.py:

    from tickborg.fakegithub.testing import (  # noqa: F401  (pytest finds fixtures by name)
        fake_github, fake_github_factory, github_api_description, github_app_config,
        github_app_key, github_client,
    )

Every fake started through these fixtures fails its test at teardown when a
request departed from GitHub's API description.
"""

from __future__ import annotations

import copy
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tickborg.config import GitHubAppConfig, Secret
from tickborg.fakegithub.apidesc import ApiDescription
from tickborg.fakegithub.keys import AppKeyPair, generate_app_key
from tickborg.fakegithub.server import FakeGitHub
from tickborg.github.client import GitHubClient

# The repository root's sibling `shared/` holds GitHub's API description and webhook payloads.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
API_DESCRIPTION = SHARED / "fixtures" / "github" / "openapi-subset.json"
WEBHOOKS = SHARED / "fixtures" / "github" / "webhooks"

TEST_APP_ID = 4242
TEST_REPO = "tick-org/monorepo"
TEST_INSTALLATION = 77


def load_webhook(
    name: str, full_name: str | None = None, clone_url: str | None = None
) -> dict[str, Any]:
    """A payload from fixtures/github/webhooks (`name` without .json), moved to another repository.

    Adapting by code, not by editing copies, keeps the real payloads untouched
    (SPEC §15). `clone_url` defaults to GitHub's URL for `full_name`.
    """
    payload = json.loads((WEBHOOKS / f"{name}.json").read_text(encoding="utf-8"))
    if full_name is None:
        return payload
    return retarget(payload, full_name, clone_url)


def retarget(payload: dict[str, Any], full_name: str, clone_url: str | None = None) -> dict[str, Any]:
    """A copy of `payload` whose repository (and the PR's head/base repositories) is `full_name`."""
    owner, _, name = full_name.partition("/")
    adapted = copy.deepcopy(payload)
    repos = [adapted.get("repository")]
    pull = adapted.get("pull_request") or {}
    repos += [pull.get("head", {}).get("repo"), pull.get("base", {}).get("repo")]
    for repo in filter(None, repos):
        repo["name"], repo["full_name"] = name, full_name
        repo["owner"]["login"] = owner
        repo["html_url"] = f"https://github.com/{full_name}"
        repo["clone_url"] = clone_url or f"https://github.com/{full_name}.git"
    return adapted


@pytest.fixture(scope="session")
def github_app_key() -> AppKeyPair:
    return generate_app_key()


@pytest.fixture(scope="session")
def github_api_description() -> ApiDescription:
    return ApiDescription.load(API_DESCRIPTION)


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
