"""The statuses and labels the mass-rebuilder sends the reporter: each status
written once and in order, whatever order and however often its messages come
(pure rules row by row, then the writer against the fake GitHub over HTTP)."""

from __future__ import annotations

import pytest

from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.github.client import GitHubClient
from tickborg.github.errors import CommitStatusError
from tickborg.github.models import Status
from tickborg.github.status import CommitStatus
from tickborg.messages import CommitStatusWrite, LabelsWrite
from tickborg.fakegithub.faults import server_error
from tickborg.fakegithub.testing import TEST_APP_ID
from tickborg.filters.policy import Verdict
from tickborg.reporter.coalesce import StripedLocks
from tickborg.reporter.policy import POLICY, Case
from tickborg.reporter.runs import LogLinks
from tickborg.reporter.worker import StatusReporter
from tickborg.reporter.writes import GitHubWriter, status_skip

SHA = "e" * 40
EVAL = CommitStatus(TEST_REPO, SHA, "tickborg-eval")


def write(state: str, description: str, at: float) -> CommitStatusWrite:
    return CommitStatusWrite(TEST_REPO, SHA, "tickborg-eval", state, description, None, at)


def shown(state: str, description: str) -> Status:
    return Status("tickborg-eval", state, description, None)


@pytest.mark.parametrize(
    "new, last, on_github, skipped",
    [
        (write("success", "done", 2), write("pending", "Merging PR", 1), None, None),
        (write("pending", "Merging PR", 1), write("success", "done", 2), None, "superseded"),
        (write("success", "done", 3), write("success", "done", 2), None, "shown already"),
        # A context this reporter has not written: GitHub's status decides.
        (write("success", "done", 3), None, None, None),
        (write("success", "done", 3), None, shown("success", "done"), "shown already"),
        (write("pending", "Starting", 3), None, shown("success", "done"), "GitHub shows the evaluation's outcome"),
        (write("pending", "Evaluating", 3), None, shown("pending", "Starting"), None),
        (write("failure", "Failed to merge", 3), None, shown("success", "done"), None),
    ],
)
def test_which_status_writes_are_skipped(new, last, on_github, skipped) -> None:
    newest = max(new.at, last.at if last else 0)
    reason = status_skip(new, newest, last, on_github)
    assert (reason is None) if skipped is None else (skipped in reason)


@pytest.fixture
def fake(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.state.add_pull_request(TEST_REPO, 12, head_sha=SHA, base_ref="main", labels=["tickborg-internal-error"])
    return fake_github


def statuses(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(s["state"], s["description"]) for s in fake.state.statuses(TEST_REPO, SHA)]


def test_writes_out_of_order_and_again_leave_the_newest_once(fake: FakeGitHub, github_client: GitHubClient) -> None:
    writer = GitHubWriter(github_client, StripedLocks())
    pending, done = write("pending", "Merging PR", 1), write("success", "done", 2)
    for each in (done, pending, done):
        writer.status(each)
    assert statuses(fake) == [("success", "done")]


def test_a_failed_progress_step_is_not_retried_once_its_outcome_came(fake: FakeGitHub, github_client: GitHubClient) -> None:
    writer = GitHubWriter(github_client, StripedLocks())
    fake.fail(server_error(502), "POST", f"/repos/{TEST_REPO}/statuses/.*", times=1)
    step, done = write("pending", "Merging PR", 1), write("success", "done", 2)
    with pytest.raises(CommitStatusError):
        writer.status(step)
    writer.status(done)
    assert "superseded" in writer.status(step)  # its retry
    assert statuses(fake) == [("success", "done")]


def test_a_reporter_taking_over_does_not_write_what_github_shows(fake: FakeGitHub, github_client: GitHubClient) -> None:
    GitHubWriter(github_client, StripedLocks()).status(write("success", "done", 2))
    # Nothing in memory: GitHub decides.
    assert "shown already" in GitHubWriter(github_client, StripedLocks()).status(write("success", "done", 2))
    assert "outcome" in GitHubWriter(github_client, StripedLocks()).status(write("pending", "Merging PR", 1))
    assert statuses(fake) == [("success", "done")]


def test_the_status_helper_keeps_context_and_url_and_the_cut_happens_on_the_wire(
    fake: FakeGitHub, github_client: GitHubClient
) -> None:
    writer = GitHubWriter(github_client, StripedLocks())
    status = CommitStatus(TEST_REPO, SHA, "tickborg-eval", "Starting").set(writer, "pending")
    status = status.with_url("https://logs/eval").set(writer, "success", "Done " * 40)
    assert status.description == "Done " * 40  # the helper remembers; the wire gets the cut
    stored = fake.state.statuses(TEST_REPO, SHA)
    assert [(s["context"], s["state"], s["target_url"]) for s in stored] == [
        ("tickborg-eval", "pending", None),
        ("tickborg-eval", "success", "https://logs/eval"),
    ]
    assert len(stored[1]["description"]) == 140


def test_labels_are_added_and_removed(fake: FakeGitHub, github_client: GitHubClient) -> None:
    writer = GitHubWriter(github_client, StripedLocks())
    writer.labels(LabelsWrite(TEST_REPO, 12, ("project: libfoo",), ("tickborg-internal-error",)))
    writer.labels(LabelsWrite(TEST_REPO, 12, (), ("tickborg-internal-error",)))  # gone already: fine
    assert fake.state.labels(TEST_REPO, 12) == ["project: libfoo"]


def test_each_write_falls_in_its_row(fake: FakeGitHub, github_client: GitHubClient) -> None:
    reporter = StatusReporter(github_client, LogLinks(None), TEST_APP_ID)
    labels = LabelsWrite(TEST_REPO, 12, ("project: libfoo",), ())
    assert reporter.decide(write("success", "done", 1)).case is Case.STATUS_WRITE
    assert reporter.decide(write("pending", "Starting", 0)).case is Case.STATUS_WRITE  # older: not written
    assert reporter.decide(labels).case is Case.LABELS_WRITE
    assert POLICY[Case.STATUS_WRITE] is POLICY[Case.LABELS_WRITE] is Verdict.ACK
    fake.fail(server_error(502), "POST", f"/repos/{TEST_REPO}/issues/12/labels", times=1)
    failed = reporter.decide(labels)
    assert failed.case is Case.INTERNAL_ERROR and POLICY[failed.case] is Verdict.NACK_REQUEUE
    assert statuses(fake) == [("success", "done")]
