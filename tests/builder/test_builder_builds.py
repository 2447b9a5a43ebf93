"""Real builds through the builder, on the real broker, from a real git origin:
make, cmake with ctest, custom; failure; timeout; the log streamed in order
before the result; announced starts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from builder_fleet import (
    SYSTEM,
    custom,
    is_result,
    lines_of,
    make_origin,
    pr_job,
    push_job,
    run_job,
)
from procs import new_marker, sleeper, wait_for

from tickborg.config import RabbitMQConfig
from tickborg.messages import BuildJob

pytestmark = pytest.mark.broker


def build(
    rabbitmq: RabbitMQConfig, tmp_path: Path, job: BuildJob, *projects: dict[str, Any], **builder: Any
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the result, the build-results messages, the build-logs messages)."""
    statusreport, logs = run_job(rabbitmq, tmp_path, job, *projects, **builder)
    return statusreport[-1], statusreport, logs


def test_make_project_streams_every_line_in_order_before_the_result(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(7, "main", {"hello/NOTES": "a change\n"}, "hello: notes")
    result, statusreport, logs = build(rabbitmq_config, tmp_path, pr_job(origin, 7, head, ["hello", "nope"]))
    assert result["status"] == "Success", result
    assert (result["attempted_attrs"], result["skipped_attrs"]) == (["hello"], ["nope"])
    assert (result["system"], result["pr"]["number"], result["pr"]["head_sha"]) == (SYSTEM, 7, head)
    # The log: BuildLogStart, then chunks of the lines numbered from 1 in order, then the result.
    start, *middle, last = logs
    assert start["attempt_id"] == result["attempt_id"] and start["attempted_attrs"] == ["hello"]
    assert "first_line_number" not in start and "repo" not in start
    firsts = [m["first_line_number"] for m in middle]
    assert firsts == list(itertools.accumulate((len(m["lines"]) for m in middle[:-1]), initial=1))
    assert last == result
    lines = lines_of(logs)
    assert lines[lines.index("hello line 1") : lines.index("hello line 1") + 3] == ["hello line 1", "hello line 2", "hello line 3"]
    assert result["output"] == lines[-10:]
    # announce_start: the status reporter also gets the start, with what finds the check run.
    announced = statusreport[0]
    assert announced["attempt_id"] == result["attempt_id"] and announced["pr"]["number"] == 7
    assert announced["repo"]["full_name"] == "tick-org/monorepo" and not is_result(announced)


def test_a_fleet_with_rust_collectors_gets_one_line_per_message(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    """`builder.log_messages = "lines"`: BuildLogMsg only, numbered from 1, all a Rust collector reads."""
    origin = make_origin(tmp_path)
    head = origin.open_pr(7, "main", {"hello/NOTES": "a change\n"}, "hello: notes")
    result, _, logs = build(rabbitmq_config, tmp_path, pr_job(origin, 7, head, ["hello"]), log_messages="lines")
    assert result["status"] == "Success", result
    _, *middle, _ = logs
    assert [m["line_number"] for m in middle] == list(range(1, len(middle) + 1))
    assert all(set(m) == {"system", "identity", "attempt_id", "line_number", "output"} for m in middle)
    assert "hello line 1" in lines_of(logs)


def test_projects_after_a_failure_never_ran_and_are_not_listed_as_attempted(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(8, "main", {"tools/x": "x\n"}, "tools")
    broken, fine = custom("first", "echo first ran; exit 1"), custom("second", "echo second ran")
    result, _, logs = build(rabbitmq_config, tmp_path, pr_job(origin, 8, head, ["first", "second"]), broken, fine)
    assert result["status"] == "Failure"
    assert (result["attempted_attrs"], result["skipped_attrs"]) == (["first"], ["second"])
    assert "first ran" in lines_of(logs) and "second ran" not in lines_of(logs)


def test_cmake_project_with_a_ctest_test(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(8, "main", {"libfoo/NOTES": "x\n"}, "libfoo: notes")
    result, _, logs = build(rabbitmq_config, tmp_path, pr_job(origin, 8, head, ["libfoo"]))
    assert result["status"] == "Success", result
    lines = lines_of(logs)
    assert any(line.startswith("=== libfoo: configure: cmake -S . -B build") for line in lines)
    assert any("Test #1: foo_test" in line and "Passed" in line for line in lines), lines[-20:]
    assert "100% tests passed, 0 tests failed out of 1" in lines


def test_custom_project_on_a_push_without_announcing(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    origin.commit("main", {"app/build.sh": "echo pushed build\n"}, "app: pushed")
    job = push_job(origin, "main", ["app"])
    result, statusreport, logs = build(rabbitmq_config, tmp_path, job, announce_start=False)
    assert result["status"] == "Success" and result["push"]["head_sha"] == origin.head("main")
    assert len(statusreport) == 1  # no announced start
    assert lines_of(logs)[1] == "pushed build"
    assert result["output"][-1] == "app tests pass"
    assert logs[-1]["attempt_id"] == result["attempt_id"]


def test_failing_build_is_a_failure(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    origin = make_origin(tmp_path)
    head = origin.open_pr(9, "main", {"broken/NOTES": "x\n"}, "broken: notes")
    result, _, _ = build(rabbitmq_config, tmp_path, pr_job(origin, 9, head, ["broken", "hello"]))
    assert result["status"] == "Failure"
    assert "about to fail" in result["output"]
    assert result["output"][-1] == "=== broken: build failed (exit status 2)"


def test_build_past_its_timeout_is_timed_out_and_leaves_no_process(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    marker = new_marker()
    origin = make_origin(tmp_path)
    head = origin.open_pr(10, "main", {"tools/x": "x\n"}, "slow")
    slow = custom("slow", f"echo sleeping; {sleeper(marker, ignore_term=True)}", timeout_seconds=2)
    result, _, _ = build(rabbitmq_config, tmp_path, pr_job(origin, 10, head, ["slow"]), slow)
    assert result["status"] == "TimedOut"
    # The shell may report "Terminated" in between: on a loaded machine the SIGTERM can
    # reach the sleeper before it has set SIGTERM aside (stop 29's CI).
    assert result["output"][1] == "sleeping" and result["output"][-1] == "=== slow: build timed out after 2 s"
    assert wait_for(marker, present=False, timeout=5) == []  # a killed process takes a moment to go
