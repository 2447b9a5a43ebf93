"""github-comment-filter: its policy table row by row, the ACL, and the jobs it publishes.

GitHub here is a stub of the filter's own one-method protocol; the end-to-end
tests (test_filters_end_to_end.py) use the real client against the fake GitHub.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import pytest
import structlog

from filter_payloads import JSON, PR_NUMBER, REPO_JSON, body, comment
from filter_support import delivery, published, verdict_of
from filter_support import pull as pull_request_model
from tickborg.config import Config
from tickborg.filters.comment import POLICY, Case, CommentFilter, decisions, mention_for
from tickborg.filters.policy import Verdict
from tickborg.github.errors import CommitStatusError, Error, ExpiredCreds, InternalError, MissingSha, RateLimited
from tickborg.github.models import PullRequest
from tickborg.runtime.actions import Ack, NackRequeue
from tickborg.runtime.worker import decide

HEAD_SHA = "8f3a1c2d4e5b6a7980f1e2d3c4b5a69788796a5b"
BOTH = ["x86_64-linux", "aarch64-linux"]

# SPEC §5, github-comment-filter, restated: the code's table must say the same.
SPEC_TABLE = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,
    Case.NOT_CREATED: Verdict.ACK,
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.NOT_A_PULL_REQUEST: Verdict.ACK,
    Case.NO_COMMAND: Verdict.ACK,
    Case.OWN_COMMENT: Verdict.ACK,
    Case.LOOKUP_UNAVAILABLE: Verdict.NACK_REQUEUE,
    Case.PR_NOT_FOUND: Verdict.ACK,
    Case.PR_CLOSED: Verdict.ACK,
    Case.LOOKUP_REFUSED: Verdict.ACK,  # our choice: other GitHub errors are logged and acked
    Case.BUILD: Verdict.PUBLISH_ACK,
    Case.EVAL: Verdict.PUBLISH_ACK,
    Case.NO_KNOWN_PROJECTS: Verdict.ACK,
}


def pull(state: str = "open", base_ref: str = "main", number: int = PR_NUMBER) -> PullRequest:
    return pull_request_model(HEAD_SHA, state, base_ref, number)


@attrs.define
class StubPulls:
    """Answers every lookup with `answer`: a PullRequest, or a GitHub error to raise."""

    answer: PullRequest | CommitStatusError = attrs.field(factory=pull)
    calls: list[tuple[str, int]] = attrs.field(factory=list)

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        self.calls.append((repo, number))
        if isinstance(self.answer, CommitStatusError):
            raise self.answer
        return self.answer


BUILD = "@tickbot build libfoo"

EXAMPLES: dict[Case, tuple[bytes, PullRequest | CommitStatusError]] = {
    Case.UNDECODABLE: (b'{"action": "created", "comment": ', pull()),
    Case.NOT_CREATED: (body(comment(BUILD, action="edited")), pull()),
    Case.REPO_NOT_ELIGIBLE: (body(comment(BUILD, full_name="someone/else")), pull()),
    Case.NOT_A_PULL_REQUEST: (body(comment(BUILD, on_pull_request=False)), pull()),
    Case.NO_COMMAND: (body(comment("Looks good, thanks! cc tickbot")), pull()),
    Case.OWN_COMMENT: (body(comment(BUILD, login="tickbot[bot]")), pull()),
    Case.LOOKUP_UNAVAILABLE: (body(comment(BUILD)), InternalError("GET /repos/x: 502 Bad Gateway", 502)),
    Case.PR_NOT_FOUND: (body(comment(BUILD)), Error("GET /repos/x: 404 Not Found", 404)),
    Case.PR_CLOSED: (body(comment(BUILD)), pull(state="closed")),
    Case.LOOKUP_REFUSED: (body(comment(BUILD)), Error("GET /repos/x: 403 Resource not accessible", 403)),
    Case.BUILD: (body(comment(BUILD)), pull()),
    Case.EVAL: (body(comment("@tickbot eval")), pull()),
    Case.NO_KNOWN_PROJECTS: (body(comment("@tickbot build nosuch")), pull()),
}

# Cases the webhook settles alone: they must not cost a GitHub call.
WITHOUT_LOOKUP = {
    Case.NOT_CREATED,
    Case.REPO_NOT_ELIGIBLE,
    Case.NOT_A_PULL_REQUEST,
    Case.NO_COMMAND,
    Case.OWN_COMMENT,
    Case.NO_KNOWN_PROJECTS,
}


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


def run(config: Config, payload: dict[str, Any], answer: PullRequest | CommitStatusError | None = None) -> tuple[list, StubPulls]:
    github = StubPulls() if answer is None else StubPulls(answer)
    return decide(CommentFilter(config, github), delivery(body(payload))), github


def test_the_table_covers_every_case() -> None:
    assert set(POLICY) == set(Case) == set(SPEC_TABLE) == set(EXAMPLES)


@pytest.mark.parametrize("case", list(Case), ids=lambda c: c.name.lower())
def test_policy_row(case: Case, config: Config) -> None:
    raw, answer = EXAMPLES[case]
    github = StubPulls(answer)
    worker = CommentFilter(config, github)
    assert POLICY[case] is SPEC_TABLE[case]
    assert verdict_of(decide(worker, delivery(raw))) is POLICY[case]
    if case is not Case.UNDECODABLE:
        (decision,) = decisions(worker.decode("", JSON, raw), config, StubPulls(answer))
        assert decision.case is case
    assert (github.calls == []) is (case in WITHOUT_LOOKUP | {Case.UNDECODABLE})


# -- the ACL ----------------------------------------------------------------


def build_queues(actions: list) -> list[str]:
    return [key for exchange, key, _ in published(actions) if exchange == ""]


def test_a_trusted_user_gets_every_system(config: Config) -> None:
    actions, github = run(config, comment(BUILD, login="alice"))
    (_, _, job), (_, _, same), (exchange, _, queued) = published(actions)
    assert build_queues(actions) == [f"build-inputs-{s}" for s in BOTH]
    assert job == same and exchange == "build-results"
    assert queued == {"job": job, "architectures": BOTH}
    assert github.calls == [("tick-org/monorepo", PR_NUMBER)]


@pytest.mark.parametrize("login", ["bob", "alice2"])
def test_an_untrusted_user_gets_the_primary_systems(login: str, config: Config) -> None:
    actions, _ = run(config, comment(BUILD, login=login))
    assert build_queues(actions) == ["build-inputs-x86_64-linux"]
    assert published(actions)[-1][2]["architectures"] == ["x86_64-linux"]


def test_logins_compare_case_insensitively(config: Config) -> None:
    actions, _ = run(config, comment(BUILD, login="ALICE"))
    assert build_queues(actions) == [f"build-inputs-{s}" for s in BOTH]


def test_no_trusted_users_list_trusts_everyone(make_config: Callable[..., Config]) -> None:
    actions, _ = run(make_config(trusted_users=None), comment(BUILD, login="bob"))
    assert build_queues(actions) == [f"build-inputs-{s}" for s in BOTH]


# -- the jobs ----------------------------------------------------------------


def test_the_build_job_comes_from_the_pr_lookup(config: Config) -> None:
    actions, _ = run(config, comment("@tickbot build app libfoo"), pull(base_ref="release-2"))
    job = published(actions)[0][2]
    assert job["repo"] == REPO_JSON
    assert job["pr"] == {"target_branch": "release-2", "number": PR_NUMBER, "head_sha": HEAD_SHA}
    assert job["attrs"] == ["app", "libfoo"]
    assert job["subset"] == "Project"
    assert job["logs"] == ["logs", f"tick-org/monorepo.{PR_NUMBER}"]
    assert job["statusreport"] == ["build-results", None]
    assert "push" not in job


def test_test_publishes_a_build_job_too(config: Config) -> None:
    actions, _ = run(config, comment("@tickbot test app"))
    assert verdict_of(actions) is Verdict.PUBLISH_ACK
    assert published(actions)[0][2]["attrs"] == ["app"]


def test_eval_publishes_an_evaluation_job(config: Config) -> None:
    actions, _ = run(config, comment("@TickBot eval"), pull(base_ref="release-2"))
    assert published(actions) == [
        (
            "",
            "mass-rebuild-check-jobs",
            {
                "repo": REPO_JSON,
                "pr": {"target_branch": "release-2", "number": PR_NUMBER, "head_sha": HEAD_SHA},
            },
        )
    ]


def build_jobs(actions: list) -> list[dict[str, Any]]:
    return [value for _, key, value in published(actions) if key.startswith("build-inputs")]


def test_several_commands_in_one_comment_are_all_handled(config: Config) -> None:
    text = "Thanks!\n@tickbot build libfoo @tickbot eval\n\n@tickbot test app nosuch"
    actions, github = run(config, comment(text, login="bob"))
    keys = [(exchange, key) for exchange, key, _ in published(actions)]
    assert keys == [("", "build-inputs-x86_64-linux"), ("build-results", ""), ("", "mass-rebuild-check-jobs")]
    assert [job["attrs"] for job in build_jobs(actions)] == [["libfoo", "app"]]
    assert actions[-1] == Ack() and len(github.calls) == 1


def test_a_comments_builds_are_one_job(config: Config) -> None:
    actions, _ = run(config, comment("@tickbot build libfoo\n@tickbot build app libfoo", login="bob"))
    assert [job["attrs"] for job in build_jobs(actions)] == [["libfoo", "app"]]


def test_build_and_test_of_a_project_are_one_job(config: Config) -> None:
    actions, _ = run(config, comment("@tickbot build libfoo\n@tickbot test libfoo\n@tickbot test libfoo app"))
    assert [job["attrs"] for job in build_jobs(actions)] == [["libfoo", "app"]] * len(BOTH)
    assert len(published(actions)) == len(BOTH) + 1


def test_a_command_repeated_thousands_of_times_gives_one_job_per_system(config: Config) -> None:
    # 5,000 distinct commands (each with its own unknown name) naming one known project:
    # one build of it on each system, and one QueuedBuildJobs.
    text = "\n".join(f"@tickbot build libfoo x{n}" for n in range(1, 5001))
    assert len(text) > 100_000
    with structlog.testing.capture_logs() as logs:
        actions, github = run(config, comment(text, login="alice"))
    assert build_queues(actions) == [f"build-inputs-{s}" for s in BOTH]
    assert [job["attrs"] for job in build_jobs(actions)] == [["libfoo"]] * len(BOTH)
    assert len(published(actions)) == len(BOTH) + 1 and actions[-1] == Ack()
    assert len(github.calls) == 1
    (capped,) = [line for line in logs if line["event"] == "commands beyond the cap ignored"]
    assert capped["ignored"] == 5000 - config.github_comment_filter.max_commands
    (unknown,) = [line for line in logs if line["event"] == "unknown projects dropped"]
    assert unknown["count"] == config.github_comment_filter.max_commands and len(unknown["unknown_projects"]) <= 10


def test_commands_beyond_the_cap_are_ignored(make_config: Callable[..., Config]) -> None:
    config = make_config(github_comment_filter={"max_commands": 2})
    text = "@tickbot build libfoo\n@tickbot build libfoo\n@tickbot build nosuch\n@tickbot build app\n@tickbot eval"
    actions, _ = run(config, comment(text, login="bob"))
    # The repeated command counts once; `build app` and `eval` are the third and fourth.
    assert [key for _, key, _ in published(actions)] == ["build-inputs-x86_64-linux", ""]
    assert [job["attrs"] for job in build_jobs(actions)] == [["libfoo"]]


def test_unknown_projects_are_dropped(config: Config) -> None:
    actions, _ = run(config, comment("@tickbot build nosuch libfoo ../../etc LibFoo"))
    assert {tuple(value["attrs"]) for _, key, value in published(actions) if key} == {("libfoo",)}


def test_a_command_left_with_no_project_publishes_nothing_but_others_still_run(config: Config) -> None:
    actions, _ = run(config, comment("@tickbot build nosuch\n@tickbot eval"))
    assert [key for _, key, _ in published(actions)] == ["mass-rebuild-check-jobs"]
    assert actions[-1] == Ack()


def test_only_unknown_projects_publish_nothing_and_cost_no_lookup(config: Config) -> None:
    actions, github = run(config, comment("@tickbot build nosuch\n@tickbot test other"))
    assert actions == [Ack()] and github.calls == []


# -- comments that run nothing ---------------------------------------------


@pytest.mark.parametrize("login", ["tickbot[bot]", "TickBot[bot]"])
def test_the_bots_own_comment_runs_nothing(login: str, config: Config) -> None:
    actions, github = run(config, comment("Queued: @tickbot build libfoo", login=login))
    assert actions == [Ack()] and github.calls == []


@pytest.mark.parametrize("action", ["edited", "deleted"])
def test_an_edited_or_deleted_comment_runs_nothing(action: str, config: Config) -> None:
    actions, github = run(config, comment(BUILD, action=action))
    assert actions == [Ack()] and github.calls == []


def test_a_comment_on_a_plain_issue_runs_nothing(config: Config) -> None:
    actions, github = run(config, comment(BUILD, on_pull_request=False))
    assert actions == [Ack()] and github.calls == []


def test_a_quoted_command_runs_nothing(config: Config) -> None:
    actions, github = run(config, comment(f"> {BUILD}\nI agree with the above."))
    assert actions == [Ack()] and github.calls == []


def test_the_mention_follows_the_configured_bot_login(make_config: Callable[..., Config]) -> None:
    config = make_config(bot_login="ci-bot[bot]")
    assert mention_for(config.bot_login) == "ci-bot"
    assert verdict_of(run(config, comment("@ci-bot build libfoo"))[0]) is Verdict.PUBLISH_ACK
    assert run(config, comment(BUILD))[0] == [Ack()]


# -- the PR lookup -----------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ExpiredCreds("GET /repos/x: 401 Bad credentials", 401),
        InternalError("GET /repos/x: 503 Service Unavailable", 503),
        InternalError("GET /repos/x: ConnectionError: connection refused"),
    ],
    ids=["401", "503", "connection"],
)
def test_a_failing_lookup_is_retried(error: CommitStatusError, config: Config) -> None:
    actions, _ = run(config, comment(BUILD), error)
    assert actions == [NackRequeue(error.message, None)]


def test_a_rate_limited_lookup_is_retried_not_before_the_reset(config: Config) -> None:
    error = RateLimited("GET /repos/x: 403 API rate limit exceeded", 403, reset_at=1_900_000_000.0)
    actions, _ = run(config, comment(BUILD), error)
    assert actions == [NackRequeue(error.message, 1_900_000_000.0)]


@pytest.mark.parametrize(
    "answer",
    [
        Error("GET /repos/x: 404 Not Found", 404),
        Error("GET /repos/x: 403 Resource not accessible by integration", 403),
        Error("GET /repos/x: unexpected response: head.sha: missing", 200),
        MissingSha("GET /repos/x: 422 No commit found for SHA: abc", 422),
        pull(state="closed"),
    ],
    ids=["404", "403", "malformed", "missing-sha", "closed"],
)
def test_a_lookup_that_a_retry_cannot_change_is_acked(answer: Any, config: Config) -> None:
    actions, _ = run(config, comment(BUILD), answer)
    assert actions == [Ack()]


def test_log_context_names_repo_and_pr(config: Config) -> None:
    worker = CommentFilter(config, StubPulls())
    event = worker.decode("", JSON, body(comment(BUILD)))
    assert worker.log_context(event) == {"repo": "tick-org/monorepo", "pr": PR_NUMBER}
