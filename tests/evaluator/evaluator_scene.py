"""A PR in two places, as in production: its commits in a real local origin
repository (with `refs/pull/N/head`), its issue and statuses in the fake GitHub.
The fixtures are in conftest.py."""

from __future__ import annotations

from typing import Any

from support.config import base_config_data
from support.gitrepo import Origin

from tickborg.config import Config, parse_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.testing import TEST_REPO

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
