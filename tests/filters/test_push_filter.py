"""push-filter: its policy table row by row, and the BuildJobs it publishes."""

from __future__ import annotations

from typing import Callable

import pytest

from filter_payloads import JSON, body, push
from filter_support import delivery, published, verdict_of
from tickborg.config import Config
from tickborg.filters.policy import Verdict
from tickborg.filters.push import POLICY, Case, PushFilter, classify
from tickborg.runtime.worker import decide

# SPEC §5, push-filter, restated: the code's table must say the same.
SPEC_TABLE = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.TAG_PUSH: Verdict.ACK,
    Case.BRANCH_DELETED: Verdict.ACK,
    Case.BRANCH_NOT_TRACKED: Verdict.ACK,
    Case.PROJECTS_CHANGED: Verdict.PUBLISH_ACK,
    Case.DEFAULT_PROJECTS: Verdict.PUBLISH_ACK,
    Case.NOTHING_TO_BUILD: Verdict.ACK,
}

DOCS_ONLY = ({"modified": ["README.md", "docs/guide.md"]},)

EXAMPLES = {
    Case.UNDECODABLE: b"\x00garbage",
    Case.REPO_NOT_ELIGIBLE: body(push(full_name="someone/else")),
    Case.TAG_PUSH: body(push("refs/tags/simple-tag", source="push.tag")),
    Case.BRANCH_DELETED: body({**push(), "deleted": True, "after": "0" * 40, "commits": []}),
    Case.BRANCH_NOT_TRACKED: body(push("refs/heads/feature/x")),
    Case.PROJECTS_CHANGED: body(push()),
    Case.DEFAULT_PROJECTS: body(push(commits=DOCS_ONLY)),
    Case.NOTHING_TO_BUILD: body(push(commits=DOCS_ONLY)),
}


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
def worker(config: Config) -> PushFilter:
    return PushFilter(config)


def worker_for(case: Case, make_config: Callable[..., Config]) -> PushFilter:
    # Only the default-projects row needs defaults configured.
    defaults = ["app"] if case is Case.DEFAULT_PROJECTS else []
    return PushFilter(make_config(default_push_projects=defaults))


def test_the_table_covers_every_case() -> None:
    assert set(POLICY) == set(Case) == set(SPEC_TABLE) == set(EXAMPLES)


@pytest.mark.parametrize("case", list(Case), ids=lambda c: c.name.lower())
def test_policy_row(case: Case, make_config: Callable[..., Config]) -> None:
    worker = worker_for(case, make_config)
    assert POLICY[case] is SPEC_TABLE[case]
    assert verdict_of(decide(worker, delivery(EXAMPLES[case]))) is POLICY[case]
    if case is not Case.UNDECODABLE:
        assert classify(worker.decode("", JSON, EXAMPLES[case]), worker.config).case is case


def test_the_build_jobs(make_config: Callable[..., Config]) -> None:
    payload = push(commits=[{"added": ["app/main.c"]}, {"removed": ["libfoo/old.c"], "modified": ["README.md"]}])
    payload["before"] = "1" * 40
    actions = decide(PushFilter(make_config(systems={"primary": ["x86_64-linux", "aarch64-linux"]})), delivery(body(payload)))
    (exchange, first_queue, job), (_, second_queue, same_job), queued = published(actions)
    assert (exchange, first_queue, second_queue) == ("", "build-inputs-x86_64-linux", "build-inputs-aarch64-linux")
    assert job == same_job
    assert job["repo"]["full_name"] == "tick-org/monorepo"
    assert job["attrs"] == ["libfoo", "app"]  # configuration order
    assert job["pr"] == {"target_branch": "main", "number": 0, "head_sha": payload["after"]}
    assert job["push"] == {"head_sha": payload["after"], "branch": "main", "before_sha": "1" * 40}
    assert job["subset"] is None
    assert job["logs"] == ["logs", "tick-org/monorepo.push.main"]
    assert job["statusreport"] == ["build-results", None]
    assert queued == ("build-results", "", {"job": job, "architectures": ["x86_64-linux", "aarch64-linux"]})


def test_only_primary_systems_build_pushes(worker: PushFilter) -> None:
    queues = [key for _, key, _ in published(decide(worker, delivery(body(push()))))]
    assert queues == ["build-inputs-x86_64-linux", ""]


def test_no_project_matched_uses_the_defaults(make_config: Callable[..., Config]) -> None:
    worker = worker_for(Case.DEFAULT_PROJECTS, make_config)
    _, (_, _, queued) = published(decide(worker, delivery(EXAMPLES[Case.DEFAULT_PROJECTS])))
    assert queued["job"]["attrs"] == ["app"]


def test_a_branch_with_a_slash(make_config: Callable[..., Config]) -> None:
    worker = PushFilter(make_config(push_branches=["main", "release/1.x"]))
    job = published(decide(worker, delivery(body(push("refs/heads/release/1.x")))))[0][2]
    assert job["push"]["branch"] == "release/1.x"
    assert job["logs"] == ["logs", "tick-org/monorepo.push.release-1.x"]


@pytest.mark.parametrize(
    "payload",
    [
        push("refs/tags/simple-tag", source="push.tag-deleted"),
        {**push(), "after": "0" * 40},
        {**push(), "deleted": True},
    ],
    ids=["tag-deleted", "zero-after", "deleted-flag"],
)
def test_deletions_and_tags_build_nothing(payload: dict, worker: PushFilter) -> None:
    assert verdict_of(decide(worker, delivery(body(payload)))) is Verdict.ACK


def test_a_ref_that_is_neither_branch_nor_tag_is_not_tracked(worker: PushFilter, config: Config) -> None:
    event = worker.decode("", JSON, body(push("refs/notes/commits")))
    assert classify(event, config).case is Case.BRANCH_NOT_TRACKED


def test_repos_compare_case_insensitively(worker: PushFilter) -> None:
    assert verdict_of(decide(worker, delivery(body(push(full_name="TICK-ORG/monorepo"))))) is Verdict.PUBLISH_ACK


def test_log_context_names_repo_and_ref(worker: PushFilter) -> None:
    event = worker.decode("", JSON, EXAMPLES[Case.PROJECTS_CHANGED])
    assert worker.log_context(event) == {"repo": "tick-org/monorepo", "ref": "refs/heads/main"}
