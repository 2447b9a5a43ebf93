"""A pull request from webhook to check runs: the whole fleet, each worker its own process.

A signed `pull_request` webhook goes into the real receiver; evaluation-filter,
mass-rebuilder, builder and github-comment-poster run as `tickborg <name>`
processes against the machine's RabbitMQ; the repository is a real local git
origin with `refs/pull/N/head`; the builds are real; GitHub is the fake server.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from support.receiving import WEBHOOK_SECRET, private_file, webhook_receiver
from support.config import base_config_data
from support.gitrepo import Origin
from support.process import tickborg_process, wait_until
from support.rabbit import free_port
from support.webhooks import load_webhook
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO

PR = 42
SYSTEM = "x86_64-linux"
PROCESSES = ("evaluation-filter", "mass-rebuilder", "builder", "github-comment-poster")
# A make project and a custom one, each a real build.
MONOREPO = {
    "libfoo/Makefile": "all:\n\techo building libfoo\n\techo libfoo > libfoo.out\ncheck: all\n\ttest -s libfoo.out\n",
    "app/build.sh": "#!/bin/sh\necho building app\n",
    "README.md": "# monorepo\n",
}
PROJECTS = [
    {"name": "libfoo", "path": "libfoo", "build_system": "make"},
    {"name": "app", "path": "app", "build_system": "custom", "command": "sh build.sh"},
]


class Flow:
    """One PR's journey: the origin, the fake GitHub, and the receiver to post webhooks to."""

    def __init__(self, origin: Origin, fake: FakeGitHub, post: Callable[[str, dict[str, Any]], str]) -> None:
        self.origin = origin
        self.fake = fake
        self.post = post

    def create_pr(self, files: dict[str, str], title: str, state: str = "open") -> str:
        """The PR's branch and `refs/pull/N/head` in the origin, and the PR on GitHub; its head."""
        head = self.origin.open_pr(PR, "main", files, title)
        self.fake.state.add_pull_request(TEST_REPO, PR, head, base_ref="main", title=title, state=state)
        return head

    def announce(self, head: str, title: str) -> None:
        """GitHub's webhook for the PR being opened."""
        payload = load_webhook("pull_request.opened", TEST_REPO, clone_url=str(self.origin.path))
        pull = payload["pull_request"]
        payload["number"] = pull["number"] = PR
        pull["head"]["sha"], pull["base"]["ref"], pull["title"], pull["draft"] = head, "main", title, False
        self.post("pull_request", payload)

    def eval_states(self, head: str) -> list[str]:
        return [s["state"] for s in self.fake.state.statuses(TEST_REPO, head) if s["context"] == "tickborg-eval"]

    def runs(self, head: str) -> dict[str, dict[str, Any]]:
        return {run["name"]: run for run in self.fake.state.check_runs(TEST_REPO, head)}

    def completed(self, head: str, name: str) -> bool:
        return self.runs(head).get(name, {}).get("status") == "completed"

    def run_moves(self) -> list[str]:
        """The statuses check runs were given, in order, by successful creates and updates."""
        return [
            call.body["status"]
            for call in self.fake.calls
            if "/check-runs" in call.path and call.status in (200, 201) and "status" in (call.body or {})
        ]


@pytest.fixture
def flow(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> Iterator[Flow]:
    assert shutil.which("bwrap"), "bubblewrap is needed for the build sandbox (./dev installs it)"
    origin = Origin(tmp_path / "git")
    origin.commit("main", MONOREPO, "the monorepo")
    fake_github.state.add_commits(TEST_REPO, origin.head("main"))
    secret = private_file(tmp_path / "webhook-secret", WEBHOOK_SECRET)
    key = private_file(tmp_path / "app.pem", github_app_key.private_pem)
    data = base_config_data(
        rabbitmq_config,
        projects=PROJECTS,
        systems={"primary": [SYSTEM], "all": [SYSTEM]},  # the one this machine's builder serves
        github_app={"app_id": TEST_APP_ID, "private_key_file": str(key), "api_url": fake_github.url},
        github_webhook_receiver={"listen": f"127.0.0.1:{free_port()}", "webhook_secret_file": str(secret)},
        checkout={"root": str(tmp_path / "checkouts")},
        builder={"systems": [SYSTEM], "build_timeout_seconds": 120},
        log_viewer_url="http://logs.example/?key={key}",
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(data))
    with ExitStack() as stack:
        post = stack.enter_context(webhook_receiver(load_config(config_path)))
        for name in PROCESSES:
            stack.enter_context(tickborg_process(name, config_path, tmp_path / f"{name}.log"))
        yield Flow(origin, fake_github, post)


def test_a_pull_request_gets_its_eval_status_labels_and_completed_check_runs(flow: Flow) -> None:
    title = "libfoo: make it faster"
    head = flow.create_pr({"libfoo/Makefile": MONOREPO["libfoo/Makefile"] + "# faster\n"}, title)
    flow.announce(head, title)
    wait_until(lambda: flow.completed(head, "libfoo on x86_64-linux"), timeout=120)
    runs = flow.runs(head)
    assert set(runs) == {"libfoo on x86_64-linux"}  # only the touched project
    assert runs["libfoo on x86_64-linux"]["conclusion"] == "success"
    assert runs["libfoo on x86_64-linux"]["details_url"] == f"http://logs.example/?key={TEST_REPO}.{PR}"
    states = flow.eval_states(head)
    assert states[0] == "pending" and states[-1] == "success", states
    assert "project: libfoo" in flow.fake.state.labels(TEST_REPO, PR)
    # The run moved queued → in_progress → completed, never backwards.
    assert flow.run_moves() == ["queued", "in_progress", "completed"]


def test_a_wip_pull_request_schedules_nothing(flow: Flow) -> None:
    title = "WIP: libfoo rework"
    head = flow.create_pr({"libfoo/x.c": "int x;\n"}, title)
    flow.announce(head, title)
    wait_until(lambda: flow.eval_states(head)[-1:] == ["success"], timeout=60)
    assert flow.runs(head) == {}


def test_a_pull_request_closed_before_its_evaluation_is_skipped(flow: Flow) -> None:
    title = "libfoo: closed meanwhile"
    head = flow.create_pr({"libfoo/x.c": "int x;\n"}, title, state="closed")
    flow.announce(head, title)  # opened, as the webhook says; closed by the time it is evaluated
    wait_until(lambda: any(c.method == "GET" and c.path.endswith(f"/issues/{PR}") for c in flow.fake.calls), 60)
    time.sleep(2)
    assert "success" not in flow.eval_states(head) and flow.runs(head) == {}


def test_a_merge_conflict_fails_the_eval_status(flow: Flow) -> None:
    title = "docs: readme"
    head = flow.create_pr({"README.md": "# changed in the PR\n"}, title)
    flow.origin.commit("main", {"README.md": "# changed on main\n"}, "main moves on")
    flow.announce(head, title)
    wait_until(lambda: flow.eval_states(head)[-1:] == ["failure"], timeout=60)
    assert flow.runs(head) == {}
