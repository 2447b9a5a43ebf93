"""evaluation-filter: its policy table row by row, and the EvaluationJob it publishes."""

from __future__ import annotations

from typing import Callable

import pytest

from filter_payloads import JSON, PR_NUMBER, REPO_JSON, body, pull_request
from filter_support import delivery, published, verdict_of
from tickborg.config import Config
from tickborg.filters.evaluation import POLICY, Case, EvaluationFilter, classify
from tickborg.filters.policy import Verdict
from tickborg.runtime.actions import NackDump
from tickborg.runtime.worker import decide

# SPEC §5, evaluation-filter, restated: the code's table must say the same.
SPEC_TABLE = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,
    Case.NOT_A_PR_NUMBER: Verdict.NACK_DUMP,
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.PR_NOT_OPEN: Verdict.ACK,
    Case.CODE_CHANGED: Verdict.PUBLISH_ACK,
    Case.BASE_CHANGED: Verdict.PUBLISH_ACK,
    Case.OTHER_ACTION: Verdict.ACK,
}

BASE_CHANGE = {"base": {"ref": {"from": "release-1"}, "sha": {"from": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"}}}

EXAMPLES = {
    Case.UNDECODABLE: b'{"action": "opened", ',
    Case.NOT_A_PR_NUMBER: body(pull_request("opened", number=0)),
    Case.REPO_NOT_ELIGIBLE: body(pull_request("opened", full_name="someone/else")),
    Case.PR_NOT_OPEN: body(pull_request("closed")),
    Case.CODE_CHANGED: body(pull_request("opened")),
    Case.BASE_CHANGED: body(pull_request("edited", changes=BASE_CHANGE)),
    Case.OTHER_ACTION: body(pull_request("labeled")),
}


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
def worker(config: Config) -> EvaluationFilter:
    return EvaluationFilter(config)


def test_the_table_covers_every_case() -> None:
    assert set(POLICY) == set(Case) == set(SPEC_TABLE) == set(EXAMPLES)


@pytest.mark.parametrize("case", list(Case), ids=lambda c: c.name.lower())
def test_policy_row(case: Case, worker: EvaluationFilter, config: Config) -> None:
    assert POLICY[case] is SPEC_TABLE[case]
    assert verdict_of(decide(worker, delivery(EXAMPLES[case]))) is POLICY[case]
    if case is not Case.UNDECODABLE:
        assert classify(worker.decode("", JSON, EXAMPLES[case]), config).case is case


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_actions_bringing_code_are_evaluated(action: str, worker: EvaluationFilter) -> None:
    actions = decide(worker, delivery(body(pull_request(action))))
    assert verdict_of(actions) is Verdict.PUBLISH_ACK


@pytest.mark.parametrize(
    "payload",
    [
        pull_request("labeled"),
        pull_request("assigned"),
        pull_request("converted_to_draft"),
        pull_request("edited", changes={"title": {"from": "Old title"}}),
        pull_request("edited"),
        # A `closed` event for a PR GitHub still reports open is only its action talking.
        pull_request("closed", state="open"),
    ],
    ids=["labeled", "assigned", "converted_to_draft", "title-edit", "edit-without-changes", "closed"],
)
def test_other_actions_are_acked(payload: dict, worker: EvaluationFilter) -> None:
    assert decide(worker, delivery(body(payload))) == decide(worker, delivery(EXAMPLES[Case.OTHER_ACTION]))


def test_a_closed_pr_is_not_evaluated_whatever_the_action(worker: EvaluationFilter, config: Config) -> None:
    event = worker.decode("", JSON, body(pull_request("synchronize", state="closed")))
    assert classify(event, config).case is Case.PR_NOT_OPEN


def test_the_evaluation_job(worker: EvaluationFilter) -> None:
    payload = pull_request("synchronize", base="release-2")
    actions = decide(worker, delivery(body(payload)))
    assert published(actions) == [
        (
            "",
            "mass-rebuild-check-jobs",
            {
                "repo": REPO_JSON,
                "pr": {
                    "target_branch": "release-2",
                    "number": PR_NUMBER,
                    "head_sha": payload["pull_request"]["head"]["sha"],
                },
            },
        )
    ]


def test_repos_compare_case_insensitively(worker: EvaluationFilter) -> None:
    actions = decide(worker, delivery(body(pull_request(full_name="Tick-Org/MonoRepo"))))
    assert verdict_of(actions) is Verdict.PUBLISH_ACK
    assert published(actions)[0][2]["repo"]["full_name"] == "Tick-Org/MonoRepo"


def test_a_repository_with_dots_in_its_name(make_config: Callable[..., Config]) -> None:
    worker = EvaluationFilter(make_config(repos=["acme/site.github.io"]))
    actions = decide(worker, delivery(body(pull_request(full_name="acme/site.github.io"))))
    assert published(actions)[0][2]["repo"]["name"] == "site.github.io"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe not utf-8", b"[]", b"null", body({"action": "opened"}), body({**pull_request(), "number": "17"})],
    ids=["not-utf8", "array", "null", "missing-fields", "wrong-type"],
)
def test_undecodable_bodies_are_dead_lettered(raw: bytes, worker: EvaluationFilter) -> None:
    assert verdict_of(decide(worker, delivery(raw))) is Verdict.NACK_DUMP


def test_log_context_names_repo_and_pr(worker: EvaluationFilter) -> None:
    event = worker.decode("", JSON, EXAMPLES[Case.CODE_CHANGED])
    assert worker.log_context(event) == {"repo": "tick-org/monorepo", "pr": PR_NUMBER}


@pytest.mark.parametrize("number", [0, -3])
def test_a_pr_number_below_one_is_dead_lettered_naming_why(number: int, worker: EvaluationFilter) -> None:
    (action,) = decide(worker, delivery(body(pull_request("opened", number=number))))
    assert isinstance(action, NackDump)
    assert action.reason == f"pull request number {number}: GitHub's start at 1"
