"""github-rerun-filter: its policy table row by row, the ACL, and the jobs a re-run publishes.

GitHub here is a stub of the filter's own protocol; the end-to-end tests
(test_rerun_end_to_end.py) use the real client against the fake GitHub.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import pytest

from filter_payloads import JSON, PR_NUMBER, REPO_JSON, body, check_run, check_suite, external_id
from filter_support import delivery, published, verdict_of
from filter_support import pull as pull_request_model
from tickborg.config import Config
from tickborg.filters.policy import Verdict
from tickborg.filters.rerun import POLICY, Case, RerunFilter, decisions
from tickborg.github.errors import CommitStatusError, Error, ExpiredCreds, InternalError, MissingSha, RateLimited
from tickborg.github.models import CheckRun, PullRequest
from tickborg.runtime.actions import NackRequeue
from tickborg.runtime.worker import decide

APP_ID = 4242
OTHER_APP = 15368  # GitHub Actions
HEAD_SHA = "5d0c8a1b2e3f405162738495a6b7c8d9e0f1a2b3"
X86, ARM = "x86_64-linux", "aarch64-linux"

# SPEC §7 (re-runs), restated as a table: the code's must say the same.
SPEC_TABLE = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,
    Case.NOT_RERUN: Verdict.ACK,
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.NOT_OURS: Verdict.ACK,
    Case.NO_PULL_REQUEST: Verdict.ACK,
    Case.LOOKUP_UNAVAILABLE: Verdict.NACK_REQUEUE,
    Case.LOOKUP_REFUSED: Verdict.ACK,
    Case.PR_CLOSED: Verdict.ACK,
    Case.NO_RUNS: Verdict.ACK,
    Case.SYSTEM_NOT_ALLOWED: Verdict.ACK,
    Case.NO_KNOWN_PROJECTS: Verdict.ACK,
    Case.RERUN: Verdict.PUBLISH_ACK,
}


def pull(state: str = "open", base_ref: str = "main", number: int = PR_NUMBER) -> PullRequest:
    return pull_request_model(HEAD_SHA, state, base_ref, number)


def run_of(system: str, projects: tuple[str, ...], ext_id: str | None = None, run_id: int = 1) -> CheckRun:
    return CheckRun(
        id=run_id,
        name=f"{', '.join(projects)} on {system}",
        head_sha=HEAD_SHA,
        status="completed",
        conclusion="failure",
        details_url=None,
        external_id=external_id(system, projects) if ext_id is None else ext_id,
    )


@attrs.define
class StubGitHub:
    """Answers lookups with `pulls` (by number) and listings with `runs`; an error is raised instead."""

    pulls: dict[int, PullRequest | CommitStatusError] = attrs.field(factory=lambda: {PR_NUMBER: pull()})
    runs: list[CheckRun] | CommitStatusError = attrs.field(factory=list)
    calls: list[tuple[Any, ...]] = attrs.field(factory=list)

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        self.calls.append(("pull", repo, number))
        answer = self.pulls[number]
        if isinstance(answer, CommitStatusError):
            raise answer
        return answer

    def list_check_runs(
        self, repo: str, ref: str, check_name: str | None = None, app_id: int | None = None
    ) -> list[CheckRun]:
        self.calls.append(("runs", repo, ref, app_id))
        if isinstance(self.runs, CommitStatusError):
            raise self.runs
        return self.runs


def ours(**changes: Any) -> dict[str, Any]:
    return check_run(app_id=APP_ID, head_sha=HEAD_SHA, **changes)


def suite(**changes: Any) -> dict[str, Any]:
    return check_suite(app_id=APP_ID, head_sha=HEAD_SHA, **changes)


BAD_GATEWAY = InternalError("GET /repos/x: 502 Bad Gateway", 502)

EXAMPLES: dict[Case, tuple[bytes, StubGitHub]] = {
    Case.UNDECODABLE: (b'{"action": "rerequested", "check_run": ', StubGitHub()),
    Case.NOT_RERUN: (body(ours(action="completed")), StubGitHub()),
    Case.REPO_NOT_ELIGIBLE: (body(ours(full_name="someone/else")), StubGitHub()),
    Case.NOT_OURS: (body(check_run(app_id=OTHER_APP, head_sha=HEAD_SHA)), StubGitHub()),
    Case.NO_PULL_REQUEST: (body(ours(prs=())), StubGitHub()),
    Case.LOOKUP_UNAVAILABLE: (body(ours()), StubGitHub(pulls={PR_NUMBER: BAD_GATEWAY})),
    Case.LOOKUP_REFUSED: (body(ours()), StubGitHub(pulls={PR_NUMBER: Error("GET /repos/x: 404 Not Found", 404)})),
    Case.PR_CLOSED: (body(ours()), StubGitHub(pulls={PR_NUMBER: pull(state="closed")})),
    Case.NO_RUNS: (body(suite()), StubGitHub(runs=[run_of(X86, ("libfoo",), ext_id="ci-42")])),
    Case.SYSTEM_NOT_ALLOWED: (body(ours(system=ARM, sender="bob")), StubGitHub()),
    Case.NO_KNOWN_PROJECTS: (body(ours(projects=("gone",))), StubGitHub()),
    Case.RERUN: (body(ours()), StubGitHub()),
}

# Cases the webhook settles alone: they must not cost a GitHub call.
WITHOUT_LOOKUP = {Case.UNDECODABLE, Case.NOT_RERUN, Case.REPO_NOT_ELIGIBLE, Case.NOT_OURS, Case.NO_PULL_REQUEST}


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


def run(config: Config, payload: dict[str, Any], github: StubGitHub | None = None) -> tuple[list, StubGitHub]:
    github = github or StubGitHub()
    return decide(RerunFilter(config, github, APP_ID), delivery(body(payload))), github


def test_the_table_covers_every_case() -> None:
    assert set(POLICY) == set(Case) == set(SPEC_TABLE) == set(EXAMPLES)


@pytest.mark.parametrize("case", list(Case), ids=lambda c: c.name.lower())
def test_policy_row(case: Case, config: Config) -> None:
    raw, github = EXAMPLES[case]
    worker = RerunFilter(config, github, APP_ID)
    assert POLICY[case] is SPEC_TABLE[case]
    assert verdict_of(decide(worker, delivery(raw))) is POLICY[case]
    if case is not Case.UNDECODABLE:
        (decision,) = decisions(worker.decode("", JSON, raw), config, attrs.evolve(github, calls=[]), APP_ID)
        assert decision.case is case
    assert (github.calls == []) is (case in WITHOUT_LOOKUP)


# -- what the webhook settles ----------------------------------------------------


@pytest.mark.parametrize(
    "ext_id", ["", "ci-run-42", '{"system": "x86_64-linux"}', '{"system": 1, "projects": []}', "[1]"]
)
def test_a_run_whose_external_id_we_did_not_write_is_not_ours(ext_id: str, config: Config) -> None:
    actions, github = run(config, ours(ext_id=ext_id))
    assert verdict_of(actions) is Verdict.ACK and github.calls == []


def test_a_suite_of_another_app_is_not_ours(config: Config) -> None:
    actions, github = run(config, check_suite(app_id=OTHER_APP, head_sha=HEAD_SHA))
    assert verdict_of(actions) is Verdict.ACK and github.calls == []


@pytest.mark.parametrize("action", ["created", "completed", "requested_action", "requested"])
def test_only_rerequested_acts(action: str, config: Config) -> None:
    for payload in (ours(action=action), suite(action=action)):
        actions, github = run(config, payload)
        assert verdict_of(actions) is Verdict.ACK and github.calls == []


def test_repositories_compare_case_insensitively(config: Config) -> None:
    actions, _ = run(config, ours(full_name="Tick-Org/MonoRepo"))
    assert verdict_of(actions) is Verdict.PUBLISH_ACK


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'{"action": "rerequested"}',  # neither check_run nor check_suite
        body({**ours(), "check_run": {**ours()["check_run"], "head_sha": 7}}),
        body({k: v for k, v in suite().items() if k != "sender"}),
    ],
    ids=["empty", "list", "neither", "bad-head-sha", "no-sender"],
)
def test_garbage_is_dead_lettered(raw: bytes, config: Config) -> None:
    actions, _ = decide(RerunFilter(config, StubGitHub(), APP_ID), delivery(raw)), None
    assert verdict_of(actions) is Verdict.NACK_DUMP


# -- the GitHub lookups ------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        ExpiredCreds("GET /repos/x: 401 Bad credentials", 401),
        BAD_GATEWAY,
        RateLimited("GET /repos/x: 403 API rate limit exceeded", 403, reset_at=1_900_000_000.0),
    ],
    ids=["401", "502", "rate-limit"],
)
def test_a_failed_lookup_is_retried(failure: CommitStatusError, config: Config) -> None:
    for github in (StubGitHub(pulls={PR_NUMBER: failure}), StubGitHub(runs=failure)):
        actions, _ = run(config, suite(), github)
        (action,) = actions
        assert isinstance(action, NackRequeue)
        assert action.not_before == (1_900_000_000.0 if isinstance(failure, RateLimited) else None)


@pytest.mark.parametrize(
    "failure",
    [Error("GET /repos/x: 403 Resource not accessible", 403), MissingSha("422 No commit found for SHA", 422)],
    ids=["403", "422"],
)
def test_a_refused_listing_is_acked(failure: CommitStatusError, config: Config) -> None:
    actions, _ = run(config, suite(), StubGitHub(runs=failure))
    assert verdict_of(actions) is Verdict.ACK


def test_the_first_open_pr_of_the_commit_is_built_for(config: Config) -> None:
    github = StubGitHub(pulls={3: pull(state="closed", number=3), 5: pull(base_ref="release-2", number=5)})
    actions, _ = run(config, ours(prs=(3, 5)), github)
    assert published(actions)[0][2]["pr"] == {"target_branch": "release-2", "number": 5, "head_sha": HEAD_SHA}
    assert [c[2] for c in github.calls] == [3, 5]


def test_every_pr_of_the_commit_closed_is_acked(config: Config) -> None:
    github = StubGitHub(pulls={3: pull(state="closed", number=3), 5: pull(state="closed", number=5)})
    actions, _ = run(config, ours(prs=(3, 5)), github)
    assert verdict_of(actions) is Verdict.ACK


# -- the jobs ------------------------------------------------------------------


def test_a_run_is_scheduled_again_as_it_was(config: Config) -> None:
    actions, github = run(config, ours(system=ARM, projects=("libfoo", "app")), StubGitHub(pulls={PR_NUMBER: pull(base_ref="release-2")}))
    (exchange, key, job), (results, _, queued) = published(actions)
    assert (exchange, key) == ("", f"build-inputs-{ARM}")
    assert job["repo"] == REPO_JSON
    assert job["pr"] == {"target_branch": "release-2", "number": PR_NUMBER, "head_sha": HEAD_SHA}
    assert job["attrs"] == ["app", "libfoo"]
    assert job["logs"] == ["logs", f"tick-org/monorepo.{PR_NUMBER}"]
    assert results == "build-results" and queued == {"job": job, "architectures": [ARM]}
    assert github.calls == [("pull", "tick-org/monorepo", PR_NUMBER)]


def test_the_run_s_commit_is_built_even_when_the_pr_moved_on(config: Config) -> None:
    old = "0" * 39 + "1"
    actions, _ = run(config, check_run(app_id=APP_ID, head_sha=old))
    assert published(actions)[0][2]["pr"]["head_sha"] == old


def test_unknown_projects_are_dropped(config: Config) -> None:
    actions, _ = run(config, ours(projects=("libfoo", "gone")))
    assert published(actions)[0][2]["attrs"] == ["libfoo"]


def test_a_suite_re_run_schedules_each_of_our_runs(config: Config) -> None:
    runs = [
        run_of(X86, ("libfoo",), run_id=1),
        run_of(ARM, ("app", "libfoo"), run_id=2),
        run_of(X86, ("lint",), ext_id="another app's id", run_id=3),
        run_of(X86, ("app",), ext_id="", run_id=4),
    ]
    actions, github = run(config, suite(), StubGitHub(runs=runs))
    keys = [(key, value.get("attrs") or value["job"]["attrs"]) for _, key, value in published(actions)]
    assert keys == [
        (f"build-inputs-{X86}", ["libfoo"]),
        ("", ["libfoo"]),
        (f"build-inputs-{ARM}", ["app", "libfoo"]),
        ("", ["app", "libfoo"]),
    ]
    assert github.calls[-1] == ("runs", "tick-org/monorepo", HEAD_SHA, APP_ID)


# -- the ACL: the user who pressed the button ----------------------------------------


def test_an_untrusted_sender_re_runs_primary_systems_only(config: Config) -> None:
    runs = [run_of(X86, ("libfoo",), run_id=1), run_of(ARM, ("libfoo",), run_id=2)]
    actions, _ = run(config, suite(sender="bob"), StubGitHub(runs=runs))
    assert [key for _, key, _ in published(actions)] == [f"build-inputs-{X86}", ""]
    assert verdict_of(actions) is Verdict.PUBLISH_ACK


def test_a_trusted_sender_re_runs_any_system(config: Config) -> None:
    actions, _ = run(config, ours(system=ARM, sender="ALICE"))
    assert published(actions)[0][1] == f"build-inputs-{ARM}"


def test_a_system_no_longer_configured_is_not_built(config: Config) -> None:
    actions, _ = run(config, ours(system="riscv64-linux"))
    assert verdict_of(actions) is Verdict.ACK
