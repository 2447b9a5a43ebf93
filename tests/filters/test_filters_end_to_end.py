"""Each filter end to end: a signed webhook → the receiver → `github-events` →
the filter process → its output queue, on the real RabbitMQ; garbage on the
input queue goes to its `.dead` queue while the filter carries on.

The comment filter looks PRs up with the real client in the filter process,
against the fake GitHub; its failures are the fake's fault injection, its
retries the runtime's (small `retry_base_seconds` from the test config).
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from filter_payloads import PR_NUMBER, comment, pull_request, push
from support.config import base_config_data
from support.process import tickborg_process, wait_until
from support.rabbit import free_port
from support.receiving import WEBHOOK_SECRET, Post, private_file, webhook_receiver
from support.runtime import Broker
from tickborg.broker import declare
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.faults import Fault, bad_credentials, rate_limited, server_error
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.topology import (
    BUILD_RESULTS_QUEUE,
    COMMENT_INPUTS,
    EVALUATION_INPUTS,
    EVALUATION_JOBS,
    PUSH_INPUTS,
    build_queue,
    build_topology,
    dead_queue,
)

pytestmark = pytest.mark.broker

HEAD_SHA = "c0ffee" + "0" * 34
PULL_PATH = f"/repos/{TEST_REPO}/pulls/{PR_NUMBER}"
GARBAGE = b"\xff not a webhook"


class Fleet:
    """The config file, a broker connection with the whole topology declared,
    and the receiver, for one test."""

    def __init__(self, config_path: Path, broker: Broker, post: Post, tmp_path: Path) -> None:
        self.config_path = config_path
        self.broker = broker
        self.post = post
        self.tmp_path = tmp_path

    def run(self, name: str) -> Any:
        return tickborg_process(name, self.config_path, self.tmp_path / f"{name}.log")

    def message(self, queue: str) -> Any:
        return json.loads(self.broker.get(queue, timeout=30)[1])

    def assert_garbage_dead_lettered(self, queue: str) -> None:
        props, raw = self.broker.get(dead_queue(queue), timeout=30)
        assert raw == GARBAGE
        assert props.headers[DEAD_REASON_HEADER].startswith("decode failure")


@pytest.fixture
def make_fleet(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path
) -> Iterator[Callable[..., Fleet]]:
    brokers: list[Broker] = []

    def make(**overrides: Any) -> Fleet:
        secret = private_file(tmp_path / "webhook-secret", WEBHOOK_SECRET)
        receiver = {"listen": f"127.0.0.1:{free_port()}", "webhook_secret_file": str(secret)}
        data = base_config_data(rabbitmq_config, github_webhook_receiver=receiver, **overrides)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(data))
        config = load_config(path)
        broker = Broker(config.rabbitmq)
        brokers.append(broker)
        declare(broker.channel, build_topology(config))  # so the test can read every output queue
        post = stack.enter_context(webhook_receiver(config))
        return Fleet(path, broker, post, tmp_path)

    with ExitStack() as stack:
        yield make
    for broker in brokers:
        broker.close()


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


@pytest.fixture
def comment_fleet(
    make_fleet: Callable[..., Fleet], fake_github: FakeGitHub, github_app_key: AppKeyPair, tmp_path: Path
) -> Fleet:
    key = private_file(tmp_path / "app.pem", github_app_key.private_pem)
    app = {"app_id": TEST_APP_ID, "private_key_file": str(key), "api_url": fake_github.url, "timeout_seconds": 5}
    return make_fleet(github_app=app)


def add_pull_request(fake: FakeGitHub) -> None:
    fake.state.add_pull_request(TEST_REPO, PR_NUMBER, head_sha=HEAD_SHA, base_ref="main")


def test_comment_filter(comment_fleet: Fleet, fake_github: FakeGitHub) -> None:
    add_pull_request(fake_github)
    fleet = comment_fleet
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
    fault: Fault, times: int, lookups: int, comment_fleet: Fleet, fake_github: FakeGitHub
) -> None:
    add_pull_request(fake_github)
    fake_github.fail(fault, "GET", PULL_PATH, times=times)
    fleet = comment_fleet
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


def test_comment_filter_acks_a_comment_on_a_missing_pr(comment_fleet: Fleet, fake_github: FakeGitHub) -> None:
    fleet = comment_fleet
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
