"""A failed GitHub call is reported as `github-api-error` with its variant, from the client, for every worker."""

from __future__ import annotations

import pytest

from tickborg.config import GitHubAppConfig
from tickborg.fakegithub import FakeGitHub, faults
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.github.client import GitHubClient
from tickborg.github.errors import CommitStatusError
from tickborg.messages import Event

SHA = "a" * 40


@pytest.mark.parametrize(
    ("fault", "variant"),
    [
        (faults.server_error(502), "InternalError"),
        (faults.rate_limited(), "RateLimited"),
        (faults.error(403, "Resource not accessible by integration"), "Error"),
    ],
)
def test_each_failed_call_is_reported_with_its_variant(
    fake_github: FakeGitHub, github_app_config: GitHubAppConfig, fault: faults.Fault, variant: str
) -> None:
    events: list[Event] = []
    client = GitHubClient.from_config(github_app_config, events=events.append)
    fake_github.fail(fault, method="GET", path=f"/repos/{TEST_REPO}/commits/.*")
    try:
        with pytest.raises(CommitStatusError):
            client.list_statuses(TEST_REPO, SHA)
    finally:
        client.close()
    assert events == [Event("github-api-error", variant)]


def test_an_expected_404_is_no_error(fake_github: FakeGitHub, github_app_config: GitHubAppConfig) -> None:
    events: list[Event] = []
    client = GitHubClient.from_config(github_app_config, events=events.append)
    fake_github.state.add_issue(TEST_REPO, 7, "an issue")
    try:
        client.remove_label(TEST_REPO, 7, "not-there")
    finally:
        client.close()
    assert events == []
