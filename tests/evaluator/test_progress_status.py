"""The evaluation's progress costs a status write only when a step lasts (issue 18):
a fast evaluation writes its outcome alone, a slow step is shown, and the
outcome is always the last write. Against the fake GitHub over HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from evaluator_scene import Scene, evaluator_config, rebuilding

from tickborg.checkout import Checkouts
from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.progress import ProgressStatus
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.faults import delay
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.github.client import GitHubClient
from tickborg.github.status import CommitStatus
from tickborg.messages import EvaluationJob, Pr
from tickborg.reporter.coalesce import StripedLocks
from tickborg.reporter.writes import GitHubWriter
from tickborg.runtime.abandon import working_for
from tickborg.runtime.actions import Ack

SHA = "d" * 40


@pytest.fixture
def fake(fake_github: FakeGitHub) -> FakeGitHub:
    """The fake GitHub knowing the commit SHA (the head of a PR)."""
    fake_github.state.add_pull_request(TEST_REPO, 40, head_sha=SHA, base_ref="main")
    return fake_github


def descriptions(fake: FakeGitHub, sha: str = SHA) -> list[str]:
    return [s["description"] for s in fake.state.statuses(TEST_REPO, sha)]


def progress(github: GitHubClient, seconds: float) -> ProgressStatus:
    """Its writes made as the status reporter makes them."""
    return ProgressStatus(GitHubWriter(github, StripedLocks()), CommitStatus(TEST_REPO, SHA, "tickborg-eval"), seconds)


def test_a_fast_evaluation_writes_its_outcome_alone(scene: Scene, github_client: GitHubClient, tmp_path: Path) -> None:
    head = scene.open_pr(12, {"libbar/bar.c": "int bar2;\n"})
    evaluator = Evaluator(evaluator_config(), github_client, Checkouts(tmp_path / "checkouts"))  # the default delay
    assert evaluator.progress_delay == 2.0
    job = EvaluationJob(scene.origin.repo(), Pr(target_branch="main", number=12, head_sha=head))
    assert rebuilding(evaluator, github_client).handle(job)[-1] == Ack()
    assert scene.statuses(head) == [("tickborg-eval", "success", "Scheduled builds of libbar on x86_64-linux, aarch64-linux")]


def test_a_step_that_lasts_is_shown_and_a_passing_one_is_not(fake: FakeGitHub, github_client: GitHubClient) -> None:
    status = progress(github_client, 0.2)
    status.step("Cloning project")
    time.sleep(0.8)  # lasts: shown once
    status.step("Checking out main")
    status.step("Fetching PR")  # both over at once: neither shown
    status.finish("success", "done")
    assert descriptions(fake) == ["Cloning project", "done"]


def test_the_outcome_is_written_after_a_step_write_under_way(fake: FakeGitHub, github_client: GitHubClient) -> None:
    fake.faults.add(delay(1.0), "POST", f"/repos/{TEST_REPO}/statuses/.*", times=1)
    status = progress(github_client, 0.1)
    status.step("Merging PR")
    time.sleep(0.4)  # its write began and is held
    status.finish("failure", "Failed to merge the PR into main")
    states = [(s["state"], s["description"]) for s in fake.state.statuses(TEST_REPO, SHA)]
    assert states == [("pending", "Merging PR"), ("failure", "Failed to merge the PR into main")]


def test_a_delay_of_zero_writes_every_step(fake: FakeGitHub, github_client: GitHubClient) -> None:
    status = progress(github_client, 0)
    for step in ("Starting", "Cloning project", "Evaluating"):
        status.step(step)
    status.finish("success", "done")
    assert descriptions(fake) == ["Starting", "Cloning project", "Evaluating", "done"]


def test_a_job_given_up_shows_no_more_steps(fake: FakeGitHub, github_client: GitHubClient) -> None:
    cancelled = threading.Event()
    with working_for(cancelled):
        status = progress(github_client, 0.1)
        cancelled.set()
        status.step("Fetching PR")
        time.sleep(0.5)
        status.stop()
    assert descriptions(fake) == []
