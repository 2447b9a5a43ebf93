"""The status reporter's pure parts: decoding, run names, conclusions, summaries,
links, external ids, how a run moves, and which policy row a message falls in."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from reporter_messages import HEAD_SHA, PUSH, PUSH_SHA, REQUEST_ID, SYSTEM, job, queued, result, start
from support.config import base_config_data
from support.paths import WIRE
from tickborg.config import parse_config
from tickborg.errors import DecodeError
from tickborg.filters.policy import Decision, Verdict, enact
from tickborg.github.bodies import CHECK_RUN_TEXT_LIMIT
from tickborg.github.errors import Error, ExpiredCreds, InternalError, MissingSha, RateLimited
from tickborg.github.models import CheckRun
from tickborg.messages import (
    BuildLogStart,
    BuildResult,
    BuildStatus,
    CommitStatusWrite,
    LabelsWrite,
    LegacyStatus,
    QueuedBuildJobs,
    UnexpectedError,
)
from tickborg.reporter.inputs import decode_incoming
from tickborg.reporter.policy import POLICY, Case, github_failure, triage
from tickborg.reporter.progress import Create, Leave, Report, Stage, Update, plan
from tickborg.reporter.render import conclusion, finished_report, finished_summary, log_block, title
from tickborg.reporter.runs import ExternalId, LogLinks, queued_runs, result_run, started_run
from tickborg.reporter.worker import StatusReporter
from tickborg.runtime.actions import Ack, NackDump, NackRequeue
from tickborg.runtime.worker import Delivery, decide

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
LINKS = LogLinks("https://logs.example/?key={key}")


def wire(name: str) -> bytes:
    return (WIRE / name).read_bytes()


# -- decoding -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        ("queued-build-jobs.json", QueuedBuildJobs),
        ("build-result.v1.success.json", BuildResult),
        ("build-result.v1.push-timedout.json", BuildResult),
        ("build-result.legacy.success-flag.json", BuildResult),
        ("build-log-start.json", BuildLogStart),
        ("commit-status-write.json", CommitStatusWrite),
        ("labels-write.json", LabelsWrite),
    ],
)
def test_each_message_on_build_results_decodes(name: str, kind: type) -> None:
    assert type(decode_incoming(wire(name))) is kind


def test_an_announced_start_decodes_with_its_job() -> None:
    announced = start()
    assert decode_incoming(json.dumps(announced.to_json()).encode()) == announced


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"not json",
        b"[]",
        b"{}",
        b'{"job": {}, "architectures": []}',
        wire("build-job.pr.json"),
        wire("evaluation-job.json"),
        b'{"tag": "V2", "system": "x86_64-linux"}',
    ],
)
def test_anything_else_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_incoming(body)


def test_a_decode_error_says_why_each_shape_does_not_fit() -> None:
    with pytest.raises(DecodeError) as raised:
        decode_incoming(b"{}")
    assert "QueuedBuildJobs" in str(raised.value) and "BuildResult" in str(raised.value)
    assert "BuildLogStart" in str(raised.value) and "job: missing" in str(raised.value)


# -- run names ----------------------------------------------------------------


def test_a_pr_run_is_named_by_sorted_projects_and_system() -> None:
    (run,) = queued_runs(queued(job(["zlib", "app", "libfoo"])))
    assert run.name == "app, libfoo, zlib on x86_64-linux"
    assert (run.repo, run.head_sha, run.log_key) == ("tick-org/monorepo", HEAD_SHA, "tick-org/monorepo.17")


def test_a_push_run_names_its_branch() -> None:
    (run,) = queued_runs(queued(job(["libfoo"], push=PUSH)))
    assert run.name == "libfoo on x86_64-linux (push to release/1.x)"
    assert (run.head_sha, run.log_key) == (PUSH_SHA, "tick-org/monorepo.push.release-1.x")


def test_one_run_per_architecture() -> None:
    runs = queued_runs(queued(systems=["x86_64-linux", "aarch64-linux", "x86_64-linux"]))
    assert [r.name for r in runs] == ["libfoo on x86_64-linux", "libfoo on aarch64-linux"]


def test_result_and_start_name_the_run_their_job_queued() -> None:
    build = job(["libfoo", "app"])
    (queued_run,) = queued_runs(queued(build))
    assert result_run(result(build=build, skipped=["app"])) == queued_run
    assert started_run(start(build, skipped=["app"])) == queued_run
    push_build = job(["libfoo"], push=PUSH)
    assert result_run(result(build=push_build)) == queued_runs(queued(push_build))[0]


def test_a_start_without_its_job_names_no_run() -> None:
    assert started_run(start(named=False)) is None


def test_no_projects_still_gives_a_name() -> None:
    assert result_run(result(build=job([]))).name == "no projects on x86_64-linux"


# -- conclusions, titles, summaries ------------------------------------------------


@pytest.mark.parametrize(
    "status, expected, heading",
    [
        (BuildStatus.SUCCESS, "success", "Success"),
        (BuildStatus.FAILURE, "failure", "Failure"),
        (BuildStatus.TIMED_OUT, "timed_out", "Timed out"),
        (BuildStatus.SKIPPED, "skipped", "Skipped"),
        (BuildStatus.HASH_MISMATCH, "failure", "Hash mismatch"),
        (UnexpectedError("boom"), "failure", "Unexpected error"),
    ],
)
def test_conclusion_and_title_of_each_status(status: Any, expected: str, heading: str) -> None:
    assert (conclusion(status), title(status)) == (expected, heading)


def test_a_legacy_result_concludes_from_its_success_flag() -> None:
    failed = result(BuildStatus.FAILURE, legacy=LegacyStatus(success=False, status=None))
    assert finished_report(failed, LINKS, NOW).fields.conclusion == "failure"


def test_the_summary_lists_projects_and_the_log_tail() -> None:
    summary = finished_summary(result(BuildStatus.FAILURE, build=job(["libfoo", "app"]), skipped=["app"], output=["a", "b"]))
    assert summary == "**Attempted:** `libfoo`\n**Skipped:** `app`\n\nThe end of the log:\n\n```\na\nb\n```"


def test_the_summary_of_an_unexpected_error_says_it_and_omits_an_empty_log() -> None:
    summary = finished_summary(result(UnexpectedError("git fetch exited with status 128"), output=[]))
    assert summary == "**Attempted:** `libfoo`\n**Skipped:** none\n\n**Error:** git fetch exited with status 128"


def test_backticks_in_the_log_cannot_close_its_block() -> None:
    assert log_block(["```", "x ````` y"], 1000) == "``````\n```\nx ````` y\n``````"


def test_a_huge_log_keeps_its_end_within_githubs_limit() -> None:
    lines = [f"line {n} " + "x" * 5000 for n in range(40)] + ["the error"]
    summary = finished_summary(result(BuildStatus.FAILURE, output=lines))
    assert len(summary) <= CHECK_RUN_TEXT_LIMIT
    assert summary.endswith("the error\n```") and summary.startswith("**Attempted:**")


def test_a_finished_report_completes_the_run_with_link_and_external_id() -> None:
    report = finished_report(result(BuildStatus.TIMED_OUT), LINKS, NOW)
    body = report.fields.to_json()
    assert body["status"] == "completed" and body["conclusion"] == "timed_out"
    assert body["completed_at"] == "2026-11-29T12:00:00Z" and body["output"]["title"] == "Timed out"
    assert body["details_url"] == "https://logs.example/?key=tick-org/monorepo.17"
    assert json.loads(body["external_id"]) == {"system": SYSTEM, "projects": ["libfoo"], "request_id": REQUEST_ID}


# -- links and external ids -----------------------------------------------------


def test_log_links_default_to_logapi_and_quote_the_key() -> None:
    config = parse_config(base_config_data(logapi={"listen": "10.0.0.5:9898"}))
    assert LogLinks.from_config(config).url("acme/x.push.a#b c") == "http://10.0.0.5:9898/?key=acme/x.push.a%23b%20c"


def test_log_links_from_the_template_win_over_logapi() -> None:
    config = parse_config(base_config_data(logapi={"listen": "[::1]:9898"}, log_viewer_url="https://ci.example/logs/{key}"))
    assert LogLinks.from_config(config).url("acme/x.3") == "https://ci.example/logs/acme/x.3"


def test_log_links_bracket_an_ipv6_logapi_host() -> None:
    config = parse_config(base_config_data(logapi={"listen": "[::1]:9898"}))
    assert LogLinks.from_config(config).url("k") == "http://[::1]:9898/?key=k"


def test_no_log_links_without_a_viewer_or_logapi() -> None:
    links = LogLinks.from_config(parse_config(base_config_data()))
    assert links.url("acme/x.3") is None
    assert "details_url" not in finished_report(result(), links, NOW).fields.to_json()


def test_external_id_round_trips() -> None:
    for external in (ExternalId(SYSTEM, ("a", "b"), "r-1"), ExternalId(SYSTEM, ())):
        assert ExternalId.decode(external.encode()) == external


@pytest.mark.parametrize("text", [None, "", "42", "not json", '{"system": 1, "projects": []}', '{"system": "s"}', '{"system": "s", "projects": [1]}', '{"system": "s", "projects": [], "request_id": 5}'])
def test_an_external_id_tickborg_did_not_write_reads_as_none(text: str | None) -> None:
    assert ExternalId.decode(text) is None


# -- how a run moves --------------------------------------------------------------


def existing(status: str, request_id: str | None = REQUEST_ID, conclusion: str | None = None, run_id: int = 7) -> CheckRun:
    external = ExternalId(SYSTEM, ("libfoo",), request_id).encode()
    return CheckRun(run_id, "libfoo on x86_64-linux", HEAD_SHA, status, conclusion, None, external)


def queued_report(request_id: str = REQUEST_ID) -> Report:
    (report,) = triage(queued(job(request_id=request_id)), LINKS, NOW)[1]
    return report


def started_report(request_id: str | None = REQUEST_ID) -> Report:
    return triage(attrs.evolve(start(), request_id=request_id), LINKS, NOW)[1][0]


def finished(status: BuildStatus = BuildStatus.SUCCESS, request_id: str = REQUEST_ID) -> Report:
    return triage(result(status, build=job(request_id=request_id)), LINKS, NOW)[1][0]


def test_with_no_run_every_message_creates_one() -> None:
    for report in (queued_report(), started_report(), started_report(None), finished()):
        assert plan(report, []) == Create()


def test_queued_never_overrides_its_run() -> None:
    for status in ("queued", "in_progress"):
        assert isinstance(plan(queued_report(), [existing(status)]), Leave)
    assert isinstance(plan(queued_report(), [existing("completed", conclusion="success")]), Leave)


def test_a_new_request_gets_a_fresh_run_whatever_the_others_show() -> None:
    for status, conclusion in (("completed", "failure"), ("queued", None), ("in_progress", None)):
        assert plan(queued_report("another-request"), [existing(status, conclusion=conclusion)]) == Create()


def test_a_start_moves_its_queued_run_on() -> None:
    step = plan(started_report(), [existing("queued")])
    assert isinstance(step, Update) and step.run_id == 7
    assert step.fields.status == "in_progress" and json.loads(step.fields.external_id or "")["request_id"] == REQUEST_ID
    assert step.fields.started_at == NOW


def test_a_start_that_does_not_know_its_request_moves_the_newest_run_and_keeps_its_request() -> None:
    step = plan(started_report(None), [existing("queued", run_id=7), existing("queued", "older", run_id=3)])
    assert isinstance(step, Update) and step.run_id == 7 and step.fields.external_id is None


def test_a_start_never_moves_a_run_back() -> None:
    for status in ("in_progress", "completed"):
        for report in (started_report(), started_report(None)):
            assert isinstance(plan(report, [existing(status, conclusion="success")]), Leave)


def test_a_result_completes_its_run_at_any_stage() -> None:
    for status in ("queued", "in_progress"):
        step = plan(finished(), [existing(status)])
        assert isinstance(step, Update) and step.fields.conclusion == "success"


def test_a_result_completes_a_run_a_start_without_request_made() -> None:
    step = plan(finished(), [existing("in_progress", request_id=None)])
    assert isinstance(step, Update) and json.loads(step.fields.external_id or "")["request_id"] == REQUEST_ID


def test_a_message_about_one_request_never_changes_a_run_showing_another() -> None:
    a, b = existing("completed", "req-A", "success", run_id=1), existing("completed", "req-B", "failure", run_id=2)
    # A's result, redelivered after B's finished: A's run already shows it; B's stays failed.
    assert isinstance(plan(finished(BuildStatus.SUCCESS, "req-A"), [b, a]), Leave)
    # A's QueuedBuildJobs, late: A's run is done, no new queued run.
    assert isinstance(plan(queued_report("req-A"), [b, a]), Leave)
    # A result of a request no run shows: its own run, not B's.
    assert plan(finished(BuildStatus.SUCCESS, "req-C"), [b, a]) == Create()


def test_a_redelivered_result_writes_nothing() -> None:
    assert isinstance(plan(finished(), [existing("completed", conclusion="success")]), Leave)


def test_stages_of_githubs_statuses() -> None:
    assert [Stage.of(s) for s in ("queued", "waiting", "pending", "in_progress", "completed")] == [
        Stage.QUEUED, Stage.QUEUED, Stage.QUEUED, Stage.IN_PROGRESS, Stage.COMPLETED,
    ]


# -- the policy table, row by row ----------------------------------------------------


def verdict(actions: list[Any]) -> Verdict:
    (action,) = actions
    return {Ack: Verdict.ACK, NackRequeue: Verdict.NACK_REQUEUE, NackDump: Verdict.NACK_DUMP}[type(action)]


def test_undecodable_is_dead_lettered_by_the_runtime() -> None:
    reporter = StatusReporter(github=None, links=LINKS, app_id=1)  # type: ignore[arg-type]  # never called
    actions = decide(reporter, Delivery("build-results", "", "application/json", b'{"job": 1}'))
    assert isinstance(actions[-1], NackDump) and verdict(actions) is POLICY[Case.UNDECODABLE]


@pytest.mark.parametrize(
    "message, case, runs",
    [
        (queued(systems=["x86_64-linux", "aarch64-linux"]), Case.QUEUED, 2),
        (start(), Case.STARTED, 1),
        (start(named=False), Case.START_UNMATCHED, 0),
        (result(), Case.FINISHED, 1),
        (result(legacy=LegacyStatus(success=True, status=None)), Case.FINISHED, 1),
    ],
)
def test_each_message_falls_in_its_row(message: Any, case: Case, runs: int) -> None:
    found, reports = triage(message, LINKS, NOW)
    assert (found, len(reports)) == (case, runs)
    assert verdict(enact(POLICY, Decision(found))) is Verdict.ACK


@pytest.mark.parametrize(
    "failure, case, expected",
    [
        (ExpiredCreds("401 Bad credentials", 401), Case.EXPIRED_CREDS, Verdict.NACK_REQUEUE),
        (InternalError("502 Bad Gateway", 502), Case.INTERNAL_ERROR, Verdict.NACK_REQUEUE),
        (MissingSha("422 No commit found for SHA", 422), Case.MISSING_SHA, Verdict.ACK),
        (Error("422 Validation Failed", 422, '{"errors": []}'), Case.GITHUB_ERROR, Verdict.ACK),
        (Error("403 Resource not accessible by integration", 403), Case.GITHUB_ERROR, Verdict.ACK),
    ],
)
def test_each_github_failure_falls_in_its_row(failure: Any, case: Case, expected: Verdict) -> None:
    decision = github_failure(failure)
    assert decision.case is case and verdict(enact(POLICY, decision)) is expected


def test_a_rate_limit_is_retried_not_before_its_reset() -> None:
    decision = github_failure(RateLimited("403 API rate limit exceeded", 403, reset_at=1_900_000_000.0))
    assert decision.case is Case.RATE_LIMITED
    assert enact(POLICY, decision) == [NackRequeue(decision.reason, 1_900_000_000.0)]


def test_every_row_is_in_the_table() -> None:
    assert set(POLICY) == set(Case)
