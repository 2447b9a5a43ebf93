"""The builder's policy table, row by row, end to end on the real broker and
real git: what each case publishes and whether the job is acked, retried or
dead-lettered."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from builder_fleet import QUEUE, fleet, make_origin, pr_job, read_all, run_job
from support.runtime import Broker

from tickborg.builder.policy import POLICY, Case
from tickborg.config import RabbitMQConfig
from tickborg.filters.policy import Verdict
from tickborg.messages import BuildJob, Pr, Repo
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.topology import BUILD_RESULTS_QUEUE, dead_queue

pytestmark = pytest.mark.broker

GARBAGE = b"\xff not a build job"


def test_every_case_has_a_verdict() -> None:
    assert set(POLICY) == set(Case)
    assert POLICY[Case.UNDECODABLE] is Verdict.NACK_DUMP
    assert {case for case, verdict in POLICY.items() if verdict is Verdict.NACK_REQUEUE} == {
        Case.CHECKOUT_FAILED,
        Case.LOG_REFUSED,
    }


def dead_reason(broker: Broker, timeout: float = 60.0) -> tuple[bytes, str]:
    props, body = broker.get(dead_queue(QUEUE), timeout=timeout)
    return body, props.headers[DEAD_REASON_HEADER]


def test_merge_conflict_is_a_failure_saying_merge_failed(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(3, "main", {"hello/hello.c": "int main(void) { return 1; }\n"}, "hello: ours")
    origin.commit("main", {"hello/hello.c": "int main(void) { return 2; }\n"}, "hello: theirs")
    statusreport, logs = run_job(rabbitmq_config, tmp_path, pr_job(origin, 3, head, ["hello"]))
    result = statusreport[-1]
    assert (result["status"], result["output"]) == ("Failure", ["Merge failed"])
    assert logs == [result]  # no build ran: the result alone, beside where the log would be
    assert len(statusreport) == 1  # nothing announced


def test_head_commit_force_pushed_away_is_skipped_with_a_line(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    old = origin.open_pr(4, "main", {"hello/NOTES": "first\n"}, "first try")
    new = origin.commit("pr-4", {"hello/NOTES": "second\n"}, "second try", parent=origin.head("main"))
    origin.set_pr_head(4, new)
    statusreport, _ = run_job(rabbitmq_config, tmp_path, pr_job(origin, 4, old, ["hello"]))
    result = statusreport[-1]
    assert result["status"] == "Skipped"
    assert result["output"] == [f"Skipped: commit {old} no longer exists (force-pushed away?)"]


def test_unknown_projects_are_skipped_without_a_checkout(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    # An origin that does not exist: had the builder cloned, the job would be retried.
    repo = Repo("tick-org", "monorepo", "tick-org/monorepo", str(tmp_path / "missing.git"))
    job = BuildJob.for_pr(repo, Pr("main", 5, "a" * 40), ["nope", "zzz"])
    statusreport, logs = run_job(rabbitmq_config, tmp_path, job)
    result = statusreport[-1]
    assert (result["status"], result["skipped_attrs"], result["attempted_attrs"]) == ("Skipped", ["nope", "zzz"], [])
    assert logs == [result]
    assert not (tmp_path / "checkout" / "cache").exists()


def test_projects_missing_from_the_checkout_are_skipped(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(6, "main", {"hello/Makefile": None, "hello/hello.c": None}, "hello: gone")
    statusreport, _ = run_job(rabbitmq_config, tmp_path, pr_job(origin, 6, head, ["hello"]))
    assert (statusreport[-1]["status"], statusreport[-1]["skipped_attrs"]) == ("Skipped", ["hello"])


def test_undecodable_body_is_dead_lettered_and_the_builder_carries_on(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(2, "main", {"app/NOTES": "x\n"}, "app: notes")
    with fleet(rabbitmq_config, tmp_path) as broker:
        broker.send(QUEUE, GARBAGE)
        body, reason = dead_reason(broker)
        assert body == GARBAGE and reason.startswith("decode failure")
        broker.send(QUEUE, pr_job(origin, 2, head, ["app"]).to_json())
        assert read_all(broker, BUILD_RESULTS_QUEUE)[-1]["status"] == "Success"


def test_a_failing_fetch_is_retried_until_the_delivery_limit(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    repo = Repo("tick-org", "monorepo", "tick-org/monorepo", str(tmp_path / "missing.git"))
    job = BuildJob.for_pr(repo, Pr("main", 5, "a" * 40), ["hello"])
    with fleet(attrs.evolve(rabbitmq_config, delivery_limit=2), tmp_path) as broker:
        broker.send(QUEUE, job.to_json())
        body, reason = dead_reason(broker)
        assert json.loads(body)["request_id"] == job.request_id
        assert "git fetch failed" in reason
        # Its check run ends: a result, failed with the reason, for the status reporter.
        (result,) = read_all(broker, BUILD_RESULTS_QUEUE)
        assert result["request_id"] == job.request_id and result["attempted_attrs"] == ["hello"]
        assert result["status"]["UnexpectedError"]["err"].startswith("the build ended: gave up after 2 attempts: ")


def test_a_log_the_broker_refuses_retries_the_job(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(12, "main", {"hello/NOTES": "x\n"}, "hello: notes")
    # The broker refuses publishes to an exchange that does not exist (it closes the channel).
    job = attrs.evolve(pr_job(origin, 12, head, ["hello"]), logs=("no-such-exchange", "x"))
    with fleet(attrs.evolve(rabbitmq_config, delivery_limit=2), tmp_path, announce_start=False) as broker:
        broker.send(QUEUE, job.to_json())
        body, reason = dead_reason(broker)
        assert json.loads(body)["request_id"] == job.request_id
        assert "log not delivered: " in reason, reason
        (result,) = read_all(broker, BUILD_RESULTS_QUEUE)
        assert "log not delivered: " in result["status"]["UnexpectedError"]["err"]


def test_unexpected_error_is_reported(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(13, "main", {"hello/NOTES": "x\n"}, "hello: notes")
    job = attrs.evolve(pr_job(origin, 13, head, ["hello"]), pr=Pr(None, 13, head))
    statusreport, logs = run_job(rabbitmq_config, tmp_path, job)
    result = statusreport[-1]
    assert result["status"] == {"UnexpectedError": {"err": "GitError: the job names no target branch"}}
    assert logs == [result]


