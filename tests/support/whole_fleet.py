"""The whole fleet for end-to-end and fault tests: a real git origin, the fake
GitHub, the receiver in this process and every other worker as its own
`tickborg` process, on whichever broker the test gives (a vhost of the
machine's, or a private node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

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
    """PRs' journeys: the origin, the fake GitHub, the receiver to post webhooks to,
    and the worker processes (by name)."""

    def __init__(
        self,
        origin: Origin,
        fake: FakeGitHub,
        post: Callable[[str, dict[str, Any]], str],
        config_path: Path,
        processes: Mapping[str, subprocess.Popen[bytes]],
    ) -> None:
        self.origin = origin
        self.fake = fake
        self.post = post
        self.config_path = config_path  # for the processes a test starts itself
        self.processes = processes

    def create_pr(self, files: dict[str, str], title: str, state: str = "open", number: int = PR) -> str:
        """The PR's branch and `refs/pull/N/head` in the origin, and the PR on GitHub; its head."""
        head = self.origin.open_pr(number, "main", files, title)
        self.fake.state.add_pull_request(TEST_REPO, number, head, base_ref="main", title=title, state=state)
        return head

    def opened(self, head: str, title: str, number: int = PR) -> dict[str, Any]:
        """GitHub's pull_request webhook payload for the PR being opened."""
        payload = load_webhook("pull_request.opened", TEST_REPO, clone_url=str(self.origin.path))
        pull = payload["pull_request"]
        payload["number"] = pull["number"] = number
        pull["head"]["sha"], pull["base"]["ref"], pull["title"], pull["draft"] = head, "main", title, False
        return payload

    def announce(self, head: str, title: str, number: int = PR) -> None:
        """GitHub's webhook for the PR being opened (the receiver must accept it)."""
        self.post("pull_request", self.opened(head, title, number))

    def exited(self) -> dict[str, int]:
        """The worker processes that are no longer running, with their exit status."""
        return {name: code for name, process in self.processes.items() if (code := process.poll()) is not None}

    def eval_states(self, head: str) -> list[str]:
        return [s["state"] for s in self.fake.state.statuses(TEST_REPO, head) if s["context"] == "tickborg-eval"]

    def runs(self, head: str) -> dict[str, dict[str, Any]]:
        return {run["name"]: run for run in self.fake.state.check_runs(TEST_REPO, head)}

    def completed(self, head: str, name: str) -> bool:
        return self.runs(head).get(name, {}).get("status") == "completed"

    def run_moves(self) -> list[str]:
        """The statuses check runs were given, in order, by successful creates and updates."""
        return [status for _, status in check_run_writes(self.fake)]


def check_run_writes(fake: FakeGitHub) -> list[tuple[str, str]]:
    """Each check-run create or update the fake accepted, in order: (method, status written)."""
    return [
        (call.method, call.body["status"])
        for call in fake.calls
        if "/check-runs" in call.path and call.status in (200, 201) and "status" in (call.body or {})
    ]


@contextmanager
def running_flow(
    rabbitmq_config: RabbitMQConfig,
    tmp_path: Path,
    fake_github: FakeGitHub,
    github_app_key: AppKeyPair,
    processes: Sequence[str] = PROCESSES,
    github_app: Mapping[str, Any] | None = None,
) -> Iterator[Flow]:
    """The fleet until the block ends. `github_app`: settings added to that config
    section (say, a faster write pace for tests that send many PRs)."""
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
        github_app={
            "app_id": TEST_APP_ID, "private_key_file": str(key), "api_url": fake_github.url, **(github_app or {})
        },
        github_webhook_receiver={"listen": f"127.0.0.1:{free_port()}", "webhook_secret_file": str(secret)},
        checkout={"root": str(tmp_path / "checkouts")},
        builder={"systems": [SYSTEM], "build_timeout_seconds": 120},
        log_viewer_url="http://logs.example/?key={key}",
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(data))
    with ExitStack() as stack:
        post = stack.enter_context(webhook_receiver(load_config(config_path)))
        running: dict[str, subprocess.Popen[bytes]] = {}
        for name in processes:  # a name given twice runs twice: `builder`, `builder.2`
            key = name if name not in running else f"{name}.{sum(k.split('.')[0] == name for k in running) + 1}"
            running[key] = stack.enter_context(tickborg_process(name, config_path, tmp_path / f"{key}.log"))
        yield Flow(origin, fake_github, post, config_path, running)
