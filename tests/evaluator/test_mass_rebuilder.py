"""The mass-rebuilder's policy table row by row: real git (a local origin with
`refs/pull/N/head`), the fake GitHub over HTTP producing every failure, and the
worker's `decode`/`handle` as the runtime calls them, its statuses and labels
written by the status reporter. The broker's side is in
test_mass_rebuilder_process.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import attrs
import pytest
from evaluator_scene import Rebuilding, Scene, evaluator_config, rebuilding

from tickborg.checkout import Checkouts
from tickborg.errors import DecodeError
from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.policy import POLICY, Case
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.faults import (
    Fault,
    bad_credentials,
    error,
    rate_limited,
    server_error,
)
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.filters.policy import Verdict
from tickborg.reporter.policy import POLICY as REPORTER_POLICY
from tickborg.reporter.policy import Case as ReporterCase
from tickborg.github.client import GitHubClient
from tickborg.messages import EvaluationJob, Pr
from tickborg.runtime.actions import Ack, Action, NackRequeue, Publish
from tickborg.runtime.worker import Attempt

PR = 12
ISSUE_PATH = f"/repos/{TEST_REPO}/issues/{PR}"
STATUS_PATH = f"/repos/{TEST_REPO}/statuses/.*"
COMMIT_STATUSES_PATH = f"/repos/{TEST_REPO}/commits/.*/statuses"
STEPS = ["Starting", "Merging the PR into main", "Evaluating"]


def job(scene: Scene, head: str, number: int = PR, branch: str | None = "main") -> EvaluationJob:
    return EvaluationJob(scene.origin.repo(), Pr(target_branch=branch, number=number, head_sha=head))


def publishes(actions: list[Action]) -> list[tuple[str, str, object]]:
    return [(a.exchange, a.routing_key, json.loads(a.body())) for a in actions if isinstance(a, Publish)]


def test_every_case_has_a_verdict() -> None:
    assert set(POLICY) == set(Case)


def test_a_pr_is_evaluated_labelled_and_its_builds_scheduled(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libbar/bar.c": "int bar2;\n", "docs/x.txt": "x"}, "feat(app): tweak", title="Speed up libfoo on darwin")
    actions = rebuilder.handle(job(scene, head))
    assert actions[-1] == Ack()
    sent = publishes(actions)
    build = {
        "repo": scene.origin.repo().to_json(),
        "pr": {"target_branch": "main", "number": PR, "head_sha": head},
        "subset": "Project",
        "attrs": ["libbar", "app"],
        "request_id": sent[0][2]["request_id"],
        "logs": ["logs", f"{TEST_REPO}.{PR}"],
        "statusreport": ["build-results", None],
    }
    # alice is a trusted user: every configured system.
    assert sent == [
        ("", "build-inputs-x86_64-linux", build),
        ("", "build-inputs-aarch64-linux", build),
        ("build-results", "", {"job": build, "architectures": ["x86_64-linux", "aarch64-linux"]}),
    ]
    statuses = scene.statuses(head)
    assert statuses == [("tickborg-eval", "pending", step) for step in STEPS] + [
        ("tickborg-eval", "success", "Scheduled builds of libbar, app on x86_64-linux, aarch64-linux")
    ]
    assert scene.labels(PR) == ["project: libfoo", "project: libbar", "project: app", "scope: docs", "platform: macos"]


def test_an_untrusted_author_gets_the_primary_systems(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"}, author="mallory")
    sent = publishes(rebuilder.handle(job(scene, head)))
    assert [routing_key for _, routing_key, _ in sent] == ["build-inputs-x86_64-linux", ""]
    assert sent[1][2]["architectures"] == ["x86_64-linux"]


def test_success_removes_the_internal_error_label(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"}, labels=["tickborg-internal-error", "keep"])
    assert rebuilder.handle(job(scene, head))[-1] == Ack()
    assert scene.labels(PR) == ["keep", "project: libfoo"]


@pytest.mark.parametrize("title", ["WIP: libfoo", "libfoo [WIP]"])
def test_a_work_in_progress_pr_schedules_nothing(scene: Scene, rebuilder: Rebuilding, title: str) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"}, title=title)
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert scene.statuses(head)[-1] == ("tickborg-eval", "success", "Work in progress: no builds scheduled")
    assert scene.labels(PR) == ["project: libfoo"]


def test_a_pr_touching_no_project_builds_nothing(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"README.md": "more\n"}, "docs: words")
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert scene.statuses(head)[-1] == ("tickborg-eval", "success", "No project changed: nothing to build")
    assert scene.labels(PR) == ["scope: docs"]


def test_a_closed_pr_is_skipped(scene: Scene, rebuilder: Rebuilding, tmp_path: Path) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"}, state="closed")
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert scene.statuses(head) == []
    assert not (tmp_path / "checkouts").exists()


def test_a_plain_issue_is_skipped(scene: Scene, rebuilder: Rebuilding, tmp_path: Path) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.state.add_issue(TEST_REPO, PR + 1, title="Not a PR")
    assert rebuilder.handle(job(scene, head, number=PR + 1)) == [Ack()]
    assert scene.statuses(head) == []
    assert not (tmp_path / "checkouts").exists()


def test_a_merge_conflict_fails_the_status_and_is_acked(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "theirs\n"})
    scene.origin.commit("main", {"libfoo/foo.c": "ours\n"}, "ours")
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert scene.statuses(head)[-1] == ("tickborg-eval", "failure", "Failed to merge the PR into main")
    assert scene.labels(PR) == []


def test_a_base_branch_the_remote_lacks_fails_the_status_at_once(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    # The first attempt already says why, and nothing is retried (before: a fetch failure, retried until dead).
    assert rebuilder.handle(job(scene, head, branch="release-9"), Attempt(1, allowed=3)) == [Ack()]
    assert scene.statuses(head)[-1] == ("tickborg-eval", "failure", "Base branch release-9 not found")
    assert scene.labels(PR) == []


def test_a_head_force_pushed_away_is_acked_with_an_error_status(scene: Scene, rebuilder: Rebuilding) -> None:
    old = scene.open_pr(PR, {"libfoo/foo.c": "old\n"})
    scene.origin.open_pr(PR, "main", {"libfoo/foo.c": "new\n"}, "new")  # GitHub still knows the old commit
    assert rebuilder.handle(job(scene, old)) == [Ack()]
    context, state, description = scene.statuses(old)[-1]
    assert (context, state) == ("tickborg-eval", "error")
    assert old in description


def test_missing_sha_from_the_status_api_is_acked(scene: Scene, rebuilder: Rebuilding, tmp_path: Path) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.state.remove_commits(TEST_REPO, head)
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert not (tmp_path / "checkouts").exists()


def test_a_redelivered_evaluation_is_the_same_request_and_writes_no_label_and_no_outcome_again(
    scene: Scene, github_client: GitHubClient, tmp_path: Path
) -> None:
    # The default progress delay: a quick evaluation shows its outcome alone.
    rebuilder = rebuilding(Evaluator(evaluator_config(), github_client, Checkouts(tmp_path / "checkouts")), github_client)
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    deliveries = [rebuilder.handle(job(scene, head)) for _ in range(2)]
    assert all(actions[-1] == Ack() for actions in deliveries)
    # The same request: the reporter shows the runs the first made, and makes no second.
    first, again = ({sent["request_id"] for _, _, sent in publishes(actions) if "request_id" in sent} for actions in deliveries)
    assert len(first) == 1 and first == again
    label_posts = [c for c in scene.fake.calls if c.method == "POST" and c.path.endswith(f"/issues/{PR}/labels")]
    assert len(label_posts) == 1
    assert [state for _, state, _ in scene.statuses(head)] == ["success"]


@pytest.mark.parametrize(
    ("fault", "times"),
    [(bad_credentials(), 2), (server_error(502), 1)],
    ids=["401-expired-creds", "502-internal-error"],
)
def test_retryable_github_failures_are_retried(scene: Scene, rebuilder: Rebuilding, fault: Fault, times: int) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.fail(fault, "GET", ISSUE_PATH, times=times)
    actions = rebuilder.handle(job(scene, head))
    assert len(actions) == 1 and isinstance(actions[0], NackRequeue)
    assert actions[0].not_before is None
    # The redelivery goes through.
    assert rebuilder.handle(job(scene, head))[-1] == Ack()
    assert scene.statuses(head)[-1][1] == "success"


@pytest.mark.parametrize(
    ("fault", "path", "case"),
    [
        (server_error(503), f"{ISSUE_PATH}/labels", ReporterCase.INTERNAL_ERROR),
        (rate_limited(403, reset_in=600), STATUS_PATH, ReporterCase.RATE_LIMITED),
    ],
    ids=["labels-503", "status-rate-limited"],
)
def test_a_failing_write_is_the_reporters_to_retry_and_the_evaluation_is_done(
    scene: Scene, rebuilder: Rebuilding, fault: Fault, path: str, case: ReporterCase
) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.fail(fault, "POST", path, times=1)
    assert rebuilder.handle(job(scene, head))[-1] == Ack()
    assert case in [decision.case for decision in rebuilder.written]
    assert REPORTER_POLICY[case] is Verdict.NACK_REQUEUE


def test_a_rate_limited_read_is_retried_not_before_its_reset(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.fail(rate_limited(403, reset_in=600), "GET", COMMIT_STATUSES_PATH, times=1)
    actions = rebuilder.handle(job(scene, head))
    assert len(actions) == 1 and isinstance(actions[0], NackRequeue)
    assert actions[0].not_before is not None and actions[0].not_before > time.time() + 500


def test_another_github_error_labels_the_pr_and_is_acked(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.fail(error(403, "Resource not accessible by integration"), "GET", COMMIT_STATUSES_PATH, times=1)
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert scene.labels(PR) == ["tickborg-internal-error"]


def test_an_unreachable_origin_is_retried(scene: Scene, rebuilder: Rebuilding, tmp_path: Path) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    gone = attrs.evolve(job(scene, head), repo=attrs.evolve(scene.origin.repo(), clone_url=str(tmp_path / "gone.git")))
    actions = rebuilder.handle(gone)
    assert len(actions) == 1 and isinstance(actions[0], NackRequeue)
    assert "git fetch failed" in actions[0].reason
    assert scene.statuses(head)[-1] == ("tickborg-eval", "pending", "Merging the PR into main")


def test_the_last_attempt_ends_the_status_before_the_dead_letter(scene: Scene, rebuilder: Rebuilding, tmp_path: Path) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    gone = attrs.evolve(job(scene, head), repo=attrs.evolve(scene.origin.repo(), clone_url=str(tmp_path / "gone.git")))
    (verdict,) = rebuilder.handle(gone, Attempt(3, allowed=3))
    assert isinstance(verdict, NackRequeue)  # the runtime dead-letters it: its last attempt
    context, state, description = scene.statuses(head)[-1]
    assert (context, state) == ("tickborg-eval", "error")
    assert description.startswith("Evaluation ended: gave up after 3 attempts: git fetch failed")
    # An earlier attempt leaves it pending, to be retried.
    rebuilder.handle(gone, Attempt(2, allowed=3))
    assert scene.statuses(head)[-1] == ("tickborg-eval", "pending", "Merging the PR into main")


def test_a_branch_git_must_not_be_given_is_an_error_status_cut_to_140(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    assert rebuilder.handle(job(scene, head, branch="--upload-pack=evil " + "x" * 200)) == [Ack()]
    context, state, description = scene.statuses(head)[-1]
    assert (context, state) == ("tickborg-eval", "error")
    assert description.startswith("git refused: not a branch name")
    assert len(description) == 140


def test_an_earlier_grahamcofborg_status_keeps_its_prefix(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    scene.fake.state.create_status(TEST_REPO, head, {"state": "success", "context": "grahamcofborg-eval-check-meta"})
    rebuilder.handle(job(scene, head))
    assert {context for context, _, _ in scene.statuses(head)[1:]} == {"grahamcofborg-eval"}


def test_a_job_without_target_branch_uses_the_prs_base(scene: Scene, rebuilder: Rebuilding) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    assert rebuilder.handle(job(scene, head, branch=None))[-1] == Ack()
    assert scene.statuses(head)[-1][1] == "success"


def test_a_repository_not_in_repos_is_acked_untouched(scene: Scene, github_client: GitHubClient, tmp_path: Path, fake_github: FakeGitHub) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n"})
    config = evaluator_config(repos=["other/repo"])
    rebuilder = rebuilding(Evaluator(config, github_client, Checkouts(tmp_path / "checkouts")), github_client)
    assert rebuilder.handle(job(scene, head)) == [Ack()]
    assert fake_github.calls == []


@pytest.mark.parametrize(
    "body",
    [b"\xff", b"[]", b"{}", b'{"repo": {}, "pr": {}}', json.dumps({"repo": None, "pr": {"number": 1, "head_sha": "a"}}).encode()],
)
def test_undecodable_jobs_are_refused(rebuilder: Rebuilding, body: bytes) -> None:
    assert POLICY[Case.UNDECODABLE] is Verdict.NACK_DUMP
    with pytest.raises(DecodeError):
        rebuilder.worker.decode("", "application/json", body)
