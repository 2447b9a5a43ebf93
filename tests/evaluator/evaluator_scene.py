"""A PR in two places, as in production: its commits in a real local origin
repository (with `refs/pull/N/head`), its issue and statuses in the fake GitHub;
and the mass-rebuilder on it, its writes made by the status reporter.
The fixtures are in conftest.py."""

from __future__ import annotations

from typing import Any

from support.config import base_config_data
from support.gitrepo import Origin

from tickborg.config import Config, parse_config
from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.worker import MassRebuilder
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO
from tickborg.filters.policy import Decision
from tickborg.github.client import GitHubClient
from tickborg.messages import CommitStatusWrite, EvaluationJob, LabelsWrite
from tickborg.reporter.inputs import decode_incoming
from tickborg.reporter.policy import Case as ReporterCase
from tickborg.reporter.runs import LogLinks
from tickborg.reporter.worker import StatusReporter
from tickborg.runtime.actions import Action, Publish
from tickborg.runtime.worker import Attempt, run_notify

PROJECTS = [
    {"name": "libfoo", "path": "libfoo", "build_system": "cmake"},
    {"name": "libbar", "path": "libbar", "build_system": "make"},
    {"name": "app", "path": "app", "build_system": "custom", "command": "./build.sh"},
]
BASE_FILES = {
    "libfoo/foo.c": "int foo;\n",
    "libbar/bar.c": "int bar;\n",
    "app/main.c": "int main;\n",
    "README.md": "monorepo\n",
}


class Scene:
    """The origin repository and the fake GitHub, kept in step."""

    def __init__(self, origin: Origin, fake: FakeGitHub) -> None:
        self.origin = origin
        self.fake = fake
        self.base = origin.commit("main", BASE_FILES, "initial")

    def open_pr(self, number: int, files: dict[str, str | None], message: str = "change", **github: Any) -> str:
        head = self.origin.open_pr(number, "main", files, message)
        self.fake.state.add_pull_request(TEST_REPO, number, head_sha=head, base_ref="main", **github)
        return head

    def statuses(self, sha: str) -> list[tuple[str, str, str]]:
        return [(s["context"], s["state"], s["description"]) for s in self.fake.state.statuses(TEST_REPO, sha)]

    def labels(self, number: int) -> list[str]:
        return self.fake.state.labels(TEST_REPO, number)


def evaluator_config(**overrides: Any) -> Config:
    return parse_config(base_config_data(projects=PROJECTS, **overrides))


class Rebuilding:
    """The mass-rebuilder as the runtime drives it, its writes made by a status reporter
    (from the wire, as the reporter gets them) as soon as it publishes them."""

    def __init__(self, worker: MassRebuilder, reporter: StatusReporter) -> None:
        self.worker = worker
        self.reporter = reporter
        self.written: list[Decision[ReporterCase]] = []  # the reporter's decision on each write

    def handle(self, job: EvaluationJob, attempt: Attempt = Attempt()) -> list[Action]:
        """The job's actions but its writes, which the reporter has made."""
        actions: list[Action] = []

        def send(action: Action) -> None:
            if isinstance(action, Publish) and isinstance(action.message, (CommitStatusWrite, LabelsWrite)):
                self.written.append(self.reporter.decide(decode_incoming(action.body())))
            else:
                actions.append(action)

        run_notify(self.worker, job, send, attempt=attempt)
        return actions


def rebuilding(evaluator: Evaluator, github: GitHubClient) -> Rebuilding:
    return Rebuilding(MassRebuilder(evaluator), StatusReporter(github, LogLinks(None), TEST_APP_ID))
