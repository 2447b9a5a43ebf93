"""Each filter end to end: a signed webhook → the receiver → `github-events` →
the filter process → its output queue, on the real RabbitMQ; garbage on the
input queue goes to its `.dead` queue while the filter carries on.

The comment filter looks PRs up with the real client in the filter process,
against the fake GitHub; its failures are the fake's fault injection, its
retries the runtime's (small `retry_base_seconds` from the test config).
"""

from __future__ import annotations

import time
from typing import Callable

import pytest

from filter_payloads import PR_NUMBER, comment, pull_request, push
from fleet import GARBAGE, Fleet
from support.process import wait_until
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.faults import Fault, bad_credentials, rate_limited, server_error
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.topology import (
    BUILD_RESULTS_QUEUE,
    COMMENT_INPUTS,
    EVALUATION_INPUTS,
    EVALUATION_JOBS,
    PUSH_INPUTS,
    build_queue,
    dead_queue,
)

pytestmark = pytest.mark.broker

HEAD_SHA = "c0ffee" + "0" * 34
PULL_PATH = f"/repos/{TEST_REPO}/pulls/{PR_NUMBER}"


def test_evaluation_filter(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet()
    with fleet.run("evaluation-filter") as process:
        fleet.broker.send(EVALUATION_INPUTS, GARBAGE)
        fleet.post("pull_request", pull_request("labeled"))  # acked, publishes nothing
        payload = pull_request("opened")
        assert fleet.post("pull_request", payload) == f"pull_request.{TEST_REPO}"
        assert fleet.message(EVALUATION_JOBS) == {
            "repo": {
                "owner": "tick-org",
                "name": "monorepo",
                "full_name": TEST_REPO,
                "clone_url": f"https://github.com/{TEST_REPO}.git",
            },
            "pr": {"target_branch": "main", "number": PR_NUMBER, "head_sha": payload["pull_request"]["head"]["sha"]},
        }
        fleet.assert_garbage_dead_lettered(EVALUATION_INPUTS)
        assert fleet.broker.count(EVALUATION_JOBS) == 0
        assert process.poll() is None


def test_push_filter(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet()
    with fleet.run("push-filter") as process:
        fleet.broker.send(PUSH_INPUTS, GARBAGE)
        fleet.post("push", push("refs/tags/simple-tag", source="push.tag"))  # acked, publishes nothing
        payload = push(commits=[{"modified": ["app/main.c", "README.md"]}])
        fleet.post("push", payload)
        job = fleet.message(build_queue("x86_64-linux"))
        assert job["attrs"] == ["app"]
        assert job["pr"] == {"target_branch": "main", "number": 0, "head_sha": payload["after"]}
        assert job["push"] == {"head_sha": payload["after"], "branch": "main", "before_sha": payload["before"]}
        assert fleet.message(BUILD_RESULTS_QUEUE) == {"job": job, "architectures": ["x86_64-linux"]}
        fleet.assert_garbage_dead_lettered(PUSH_INPUTS)
        assert fleet.broker.count(build_queue("aarch64-linux")) == 0
        assert process.poll() is None


# -- github-comment-filter, with the fake GitHub -------------------------------


def add_pull_request(fake: FakeGitHub) -> None:
    fake.state.add_pull_request(TEST_REPO, PR_NUMBER, head_sha=HEAD_SHA, base_ref="main")


def test_comment_filter(github_fleet: Fleet, fake_github: FakeGitHub) -> None:
    add_pull_request(fake_github)
    fleet = github_fleet
    with fleet.run("github-comment-filter") as process:
        fleet.broker.send(COMMENT_INPUTS, GARBAGE)
        fleet.post("issue_comment", comment("@tickbot build libfoo", action="edited"))  # acked
        fleet.post("issue_comment", comment("Nice.\n@tickbot build libfoo", login="alice"))
        job = fleet.message(build_queue("x86_64-linux"))
        assert fleet.message(build_queue("aarch64-linux")) == job
        assert job["pr"] == {"target_branch": "main", "number": PR_NUMBER, "head_sha": HEAD_SHA}
        assert job["attrs"] == ["libfoo"]
        assert fleet.message(BUILD_RESULTS_QUEUE) == {"job": job, "architectures": ["x86_64-linux", "aarch64-linux"]}
        fleet.assert_garbage_dead_lettered(COMMENT_INPUTS)
        assert process.poll() is None
    assert len(fake_github.calls_to("GET", PULL_PATH)) == 1


@pytest.mark.parametrize(
    ("fault", "times", "lookups"),
    [
        # The client itself retries a 401 once with a new token; a second 401 makes it ExpiredCreds.
        (bad_credentials(), 2, 3),
        (server_error(502), 1, 2),
        (rate_limited(403, reset_in=2), 1, 2),
    ],
    ids=["401", "502", "rate-limit"],
)
def test_comment_filter_retries_a_failed_lookup(
    fault: Fault, times: int, lookups: int, github_fleet: Fleet, fake_github: FakeGitHub
) -> None:
    add_pull_request(fake_github)
    fake_github.fail(fault, "GET", PULL_PATH, times=times)
    fleet = github_fleet
    with fleet.run("github-comment-filter"):
        started = time.monotonic()
        fleet.post("issue_comment", comment("@tickbot eval"))
        assert fleet.message(EVALUATION_JOBS)["pr"]["head_sha"] == HEAD_SHA
        elapsed = time.monotonic() - started
    statuses = [call.status for call in fake_github.calls_to("GET", PULL_PATH)]
    assert statuses == [fault.status] * times + [200]
    assert len(statuses) == lookups
    assert fleet.broker.count(dead_queue(COMMENT_INPUTS)) == 0
    if fault.reset_in is not None:
        # The reset is 2 s ahead in whole seconds, so at least 1 s; the backoff alone is 0.2 s.
        assert elapsed >= 1.0


def test_comment_filter_acks_a_comment_on_a_missing_pr(github_fleet: Fleet, fake_github: FakeGitHub) -> None:
    fleet = github_fleet
    with fleet.run("github-comment-filter"):
        fleet.post("issue_comment", comment("@tickbot build libfoo"))
        wait_until(lambda: len(fake_github.calls_to("GET", PULL_PATH)) == 1)
        # Were the first comment requeued, its retry would now find the PR and build.
        add_pull_request(fake_github)
        fleet.post("issue_comment", comment("@tickbot eval"))
        assert fleet.message(EVALUATION_JOBS)["pr"]["number"] == PR_NUMBER
        time.sleep(1.0)
        assert fleet.broker.count(build_queue("x86_64-linux")) == 0
    assert [call.status for call in fake_github.calls_to("GET", PULL_PATH)] == [404, 200]
    assert fleet.broker.count(dead_queue(COMMENT_INPUTS)) == 0
