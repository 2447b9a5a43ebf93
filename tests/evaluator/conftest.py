"""Fixtures of the mass-rebuilder tests: the scene and the worker on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluator_scene import Rebuilding, Scene, evaluator_config, rebuilding
from support.gitrepo import Origin

from tickborg.checkout import Checkouts
from tickborg.evaluator.evaluation import Evaluator
from tickborg.fakegithub import FakeGitHub
from tickborg.github.client import GitHubClient


@pytest.fixture
def scene(tmp_path: Path, fake_github: FakeGitHub) -> Scene:
    return Scene(Origin(tmp_path / "git"), fake_github)


@pytest.fixture
def rebuilder(tmp_path: Path, github_client: GitHubClient) -> Rebuilding:
    checkouts = Checkouts(tmp_path / "checkouts", git_timeout_seconds=60)
    # Every step written as it begins: the tests read the whole sequence.
    return rebuilding(Evaluator(evaluator_config(), github_client, checkouts, progress_delay=0), github_client)
