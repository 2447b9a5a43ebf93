"""The whole fleet for end-to-end tests: a real git origin, the fake GitHub, the
receiver in this process and every other worker as its own `tickborg` process."""

from __future__ import annotations

import json
import shutil
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from support.config import base_config_data
from support.gitrepo import Origin
from support.process import tickborg_process
from support.rabbit import free_port
from support.receiving import WEBHOOK_SECRET, private_file, webhook_receiver
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

    def __init__(
        self, origin: Origin, fake: FakeGitHub, post: Callable[[str, dict[str, Any]], str], config_path: Path
    ) -> None:
        self.origin = origin
        self.fake = fake
        self.post = post
        self.config_path = config_path  # for the processes a test starts itself

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


@contextmanager
def running_flow(
    rabbitmq_config: RabbitMQConfig,
    tmp_path: Path,
    fake_github: FakeGitHub,
    github_app_key: AppKeyPair,
    processes: Sequence[str] = PROCESSES,
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
        for name in processes:
            stack.enter_context(tickborg_process(name, config_path, tmp_path / f"{name}.log"))
        yield Flow(origin, fake_github, post, config_path)
