"""Wire messages (SPEC §3): the spec's examples round-trip, bad input is a DecodeError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.paths import WIRE
from tickborg.errors import DecodeError
from tickborg.messages import (
    BuildJob,
    BuildLogChunk,
    BuildLogMsg,
    BuildLogStart,
    BuildResult,
    BuildStatus,
    CommitStatusWrite,
    EvaluationJob,
    Event,
    EventMessage,
    LabelsWrite,
    Pr,
    PushTrigger,
    QueuedBuildJobs,
    Repo,
    UnexpectedError,
    decode,
)


# The example files are named after their message type: `build-job.pr.json`.
CLASSES: dict[str, Any] = {
    "build-job": BuildJob,
    "build-log-chunk": BuildLogChunk,
    "build-log-msg": BuildLogMsg,
    "build-log-start": BuildLogStart,
    "build-result": BuildResult,
    "commit-status-write": CommitStatusWrite,
    "evaluation-job": EvaluationJob,
    "labels-write": LabelsWrite,
    "queued-build-jobs": QueuedBuildJobs,
    "stats-event-message": EventMessage,
}

EXAMPLES = sorted(WIRE.glob("*.json"))


def example(name: str) -> Any:
    return json.loads((WIRE / name).read_text())


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_every_message_type_has_an_example() -> None:
    assert {path.name.split(".")[0] for path in EXAMPLES} == set(CLASSES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_round_trips(path: Path) -> None:
    cls = CLASSES[path.name.split(".")[0]]
    message = decode(cls, path.read_bytes())
    assert isinstance(message, cls)
    assert message.to_json() == json.loads(path.read_bytes())
    # What we publish decodes to the same message again.
    assert decode(cls, body(message.to_json())) == message


def test_decoded_fields() -> None:
    job = decode(BuildJob, (WIRE / "build-job.push.json").read_bytes())
    assert job.attrs == ("libfoo",)
    assert job.logs == ("logs", "tick-org/monorepo.push.main")
    assert job.statusreport == ("build-results", None)
    assert job.push == PushTrigger(
        "0d1c2b3a4958677685a4b3c2d1e0f9e8d7c6b5a4", "main", "1111111111111111111111111111111111111111"
    )
    result = BuildResult.from_json(example("build-result.v1.unexpected-error.json"))
    assert result.status == UnexpectedError("git fetch exited with status 128")
    assert result.legacy is None
    stats = EventMessage.from_json(example("stats-event-message.json"))
    assert stats.events == (Event("job-received"), Event("evaluation-duration", ("main", 12)))
    assert stats.events[1].fields == ("main", 12)


def test_unknown_keys_are_ignored() -> None:
    value = example("evaluation-job.json")
    value["extra"] = {"anything": [1, 2]}
    value["pr"]["draft"] = True
    job = EvaluationJob.from_json(value)
    assert job.to_json() == example("evaluation-job.json")


def test_absent_optional_keys_are_omitted_on_encode() -> None:
    value = example("build-job.pr.json")
    assert "push" not in BuildJob.from_json(value).to_json()
    assert PushTrigger("abc", "main").to_json() == {"head_sha": "abc", "branch": "main"}


def test_absent_nullable_key_reads_as_null() -> None:
    # serde reads a missing Option field as None; so must we, for Rust senders.
    value = example("build-job.pr.json")
    del value["pr"]["target_branch"], value["logs"]
    job = BuildJob.from_json(value)
    assert job.pr.target_branch is None
    assert job.logs is None


# --------------------------------------------------------------------------
# Malformed input.


def test_not_json() -> None:
    with pytest.raises(DecodeError, match="not JSON"):
        decode(EvaluationJob, b"{not json")


def test_nan_is_not_json() -> None:
    value = example("build-log-msg.json")
    text = json.dumps(value).replace("42", "NaN")
    with pytest.raises(DecodeError, match="not JSON"):
        decode(BuildLogMsg, text.encode())


def test_deeply_nested_json() -> None:
    with pytest.raises(DecodeError, match="nested too deeply"):
        decode(EvaluationJob, b"[" * 100_000 + b"]" * 100_000)


def test_not_utf8() -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        decode(EvaluationJob, b'{"repo": "\xff\xfe"}')


def test_not_an_object() -> None:
    with pytest.raises(DecodeError, match="expected an object"):
        decode(EvaluationJob, b"[]")


@pytest.mark.parametrize(
    "cls, name, path, field",
    [
        (EvaluationJob, "evaluation-job.json", ["repo"], "repo"),
        (EvaluationJob, "evaluation-job.json", ["pr", "head_sha"], "pr.head_sha"),
        (BuildJob, "build-job.pr.json", ["attrs"], "attrs"),
        (BuildJob, "build-job.pr.json", ["request_id"], "request_id"),
        (BuildJob, "build-job.push.json", ["push", "branch"], "push.branch"),
        (QueuedBuildJobs, "queued-build-jobs.json", ["job", "repo", "clone_url"], "job.repo.clone_url"),
        (BuildResult, "build-result.v1.success.json", ["status"], "status"),
        (BuildResult, "build-result.v1.success.json", ["output"], "output"),
        (BuildResult, "build-result.v1.unexpected-error.json", ["status", "UnexpectedError", "err"],
         "status.UnexpectedError.err"),
        (BuildResult, "build-result.legacy.success-flag.json", ["attempt_id"], "attempt_id"),
        (BuildLogMsg, "build-log-msg.json", ["line_number"], "line_number"),
        (BuildLogChunk, "build-log-chunk.json", ["lines"], "lines"),
        (BuildLogStart, "build-log-start.json", ["identity"], "identity"),
        (EventMessage, "stats-event-message.json", ["sender"], "sender"),
        (CommitStatusWrite, "commit-status-write.json", ["at"], "at"),
        (LabelsWrite, "labels-write.json", ["add_labels"], "add_labels"),
    ],
)
def test_missing_key_names_the_field(cls: Any, name: str, path: list[str], field: str) -> None:
    value = example(name)
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(DecodeError, match=rf"^{field}: missing"):
        decode(cls, body(value))


@pytest.mark.parametrize(
    "cls, name, path, bad, field",
    [
        # A bool is not an integer, a float is not an integer, u64 is not negative.
        (EvaluationJob, "evaluation-job.json", ["pr", "number"], True, r"pr\.number"),
        (EvaluationJob, "evaluation-job.json", ["pr", "number"], 17.5, r"pr\.number"),
        (EvaluationJob, "evaluation-job.json", ["pr", "number"], -1, r"pr\.number"),
        (EvaluationJob, "evaluation-job.json", ["pr", "number"], "17", r"pr\.number"),
        (EvaluationJob, "evaluation-job.json", ["pr", "target_branch"], 1, r"pr\.target_branch"),
        (EvaluationJob, "evaluation-job.json", ["repo"], "tick-org/monorepo", "repo"),
        # A string is not a list of strings.
        (BuildJob, "build-job.pr.json", ["attrs"], "libfoo", "attrs"),
        (BuildJob, "build-job.pr.json", ["attrs"], ["libfoo", 3], r"attrs\[1\]"),
        (BuildJob, "build-job.pr.json", ["logs"], ["logs"], "logs"),
        (BuildJob, "build-job.pr.json", ["logs"], ["logs", 7], r"logs\[1\]"),
        (BuildJob, "build-job.pr.json", ["statusreport"], "build-results", "statusreport"),
        (BuildJob, "build-job.pr.json", ["subset"], "Nixpkgs", "subset"),
        (BuildJob, "build-job.push.json", ["push", "before_sha"], 0, r"push\.before_sha"),
        (QueuedBuildJobs, "queued-build-jobs.json", ["architectures"], "x86_64-linux", "architectures"),
        (BuildResult, "build-result.v1.success.json", ["tag"], "V2", "tag"),
        (BuildResult, "build-result.v1.success.json", ["skipped_attrs"], {}, "skipped_attrs"),
        (BuildResult, "build-result.legacy.success-flag.json", ["success"], "false", "success"),
        (BuildResult, "build-result.legacy.success-flag.json", ["success"], 0, "success"),
        (BuildLogMsg, "build-log-msg.json", ["line_number"], False, "line_number"),
        (BuildLogMsg, "build-log-msg.json", ["output"], ["a"], "output"),
        (BuildLogChunk, "build-log-chunk.json", ["lines"], "a line", "lines"),
        (BuildLogChunk, "build-log-chunk.json", ["lines"], ["a", None], r"lines\[1\]"),
        (BuildLogStart, "build-log-start.json", ["attempted_attrs"], "libfoo", "attempted_attrs"),
        (EventMessage, "stats-event-message.json", ["events"], "job-received", "events"),
        (CommitStatusWrite, "commit-status-write.json", ["state"], "done", "state"),
        (CommitStatusWrite, "commit-status-write.json", ["at"], True, "at"),
        (CommitStatusWrite, "commit-status-write.json", ["at"], -1, "at"),
        (LabelsWrite, "labels-write.json", ["remove_labels"], "tickborg-internal-error", "remove_labels"),
    ],
)
def test_wrong_type_names_the_field(cls: Any, name: str, path: list[str], bad: Any, field: str) -> None:
    value = example(name)
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = bad
    with pytest.raises(DecodeError, match=rf"^{field}: "):
        decode(cls, body(value))


@pytest.mark.parametrize(
    "status",
    [
        "Succeeded",
        "success",
        7,
        None,
        [],
        {"UnexpectedError": "boom"},
        {"UnexpectedError": {}},
        {"UnexpectedError": {"err": 1}},
        {"Failure": {"err": "x"}},
        {"UnexpectedError": {"err": "x"}, "extra": 1},
    ],
)
def test_bad_status_variant(status: Any) -> None:
    value = example("build-result.v1.success.json")
    value["status"] = status
    with pytest.raises(DecodeError, match="^status"):
        decode(BuildResult, body(value))


def test_build_status_values() -> None:
    assert [BuildStatus.from_json(s.value) for s in BuildStatus] == list(BuildStatus)
    assert BuildStatus.from_json({"UnexpectedError": {"err": "x"}}) == UnexpectedError("x")
    assert BuildStatus.TIMED_OUT.to_json() == "TimedOut"


@pytest.mark.parametrize(
    "event",
    [
        "JobReceived",  # not kebab-case
        "job_received",
        "",
        7,
        None,
        [],
        {},
        {"a": ["x"], "b": ["y"]},  # two keys
        {"evaluation-duration": {"branch": "main"}},
        {"evaluation-duration": ["main", ["nested"]]},
        {"evaluation-duration": ["main", None]},
        {"EvaluationDuration": ["main", 12]},
    ],
)
def test_bad_event_shape(event: Any) -> None:
    value = example("stats-event-message.json")
    value["events"].append(event)
    with pytest.raises(DecodeError, match=r"^events\[2\]"):
        decode(EventMessage, body(value))


def test_one_field_event_keeps_serde_newtype_shape() -> None:
    # serde writes a one-field variant as a bare value, not a one-item list.
    event = Event.of("evaluation-duration-count", "main")
    assert event.to_json() == {"evaluation-duration-count": "main"}
    assert event.fields == ("main",)
    assert Event.from_json(event.to_json()) == event
    assert Event.of("job-received").to_json() == "job-received"
    assert Event.of("evaluation-duration", "main", 12).to_json() == {"evaluation-duration": ["main", 12]}
    assert Event.from_json({"x": []}).to_json() == {"x": []}


# --------------------------------------------------------------------------
# Build results: the two shapes.


def legacy_result(**fields: Any) -> dict[str, Any]:
    value = example("build-result.legacy.success-flag.json")
    for key in ("success", "status"):
        value.pop(key)
    value.update(fields)
    return value


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"status": "TimedOut", "success": True}, BuildStatus.TIMED_OUT),
        ({"status": {"UnexpectedError": {"err": "x"}}}, UnexpectedError("x")),
        ({"status": None, "success": True}, BuildStatus.SUCCESS),
        ({"success": True}, BuildStatus.SUCCESS),
        ({"success": False}, BuildStatus.FAILURE),
        ({"status": None, "success": None}, BuildStatus.SKIPPED),
        ({}, BuildStatus.SKIPPED),
    ],
)
def test_legacy_status_rule(fields: dict[str, Any], expected: Any) -> None:
    assert BuildResult.from_json(legacy_result(**fields)).status == expected


def test_legacy_result_keeps_its_shape() -> None:
    value = example("build-result.legacy.success-flag.json")
    result = BuildResult.from_json(value)
    assert result.status == BuildStatus.FAILURE
    assert "tag" not in result.to_json()
    assert result.to_json() == value


def test_new_results_encode_as_v1() -> None:
    legacy = BuildResult.from_json(example("build-result.legacy.success-flag.json"))
    result = BuildResult(
        repo=legacy.repo,
        pr=legacy.pr,
        system="x86_64-linux",
        output=("ok",),
        attempt_id="a",
        request_id="r",
        status=BuildStatus.SUCCESS,
        skipped_attrs=None,
        attempted_attrs=("app",),
    )
    value = result.to_json()
    assert value["tag"] == "V1"
    assert value["status"] == "Success"
    assert "success" not in value and "push" not in value
    assert BuildResult.from_json(value) == result


# --------------------------------------------------------------------------
# Constructors and their default destinations.

REPO = Repo("Tick-Org", "MonoRepo", "Tick-Org/MonoRepo", "https://github.com/Tick-Org/MonoRepo.git")


def test_build_job_for_pr() -> None:
    pr = Pr("main", 17, "8f3a")
    job = BuildJob.for_pr(REPO, pr, ["libfoo", "app"], request_id="req-1")
    assert job.logs == ("logs", "tick-org/monorepo.17")
    assert job.statusreport == ("build-results", None)
    assert job.attrs == ("libfoo", "app")
    assert job.push is None
    value = job.to_json()
    assert value["logs"] == ["logs", "tick-org/monorepo.17"]
    assert value["statusreport"] == ["build-results", None]
    assert value["request_id"] == "req-1"
    assert BuildJob.from_json(value) == job


def test_build_job_for_push() -> None:
    push = PushTrigger("0d1c", "feature/x", "1111")
    job = BuildJob.for_push(REPO, push, ["libfoo"])
    assert job.pr == Pr("feature/x", 0, "0d1c")
    assert job.push == push
    assert job.logs == ("logs", "tick-org/monorepo.push.feature-x")
    assert job.statusreport == ("build-results", None)
    assert job.to_json()["push"] == {"head_sha": "0d1c", "branch": "feature/x", "before_sha": "1111"}


def test_request_ids_are_fresh_by_default() -> None:
    pr = Pr("main", 1, "abc")
    assert BuildJob.for_pr(REPO, pr, ["a"]).request_id != BuildJob.for_pr(REPO, pr, ["a"]).request_id


def test_push_example_matches_for_push() -> None:
    value = example("build-job.push.json")
    decoded = BuildJob.from_json(value)
    assert decoded.push is not None
    built = BuildJob.for_push(decoded.repo, decoded.push, decoded.attrs, request_id=decoded.request_id)
    assert built == decoded


def test_build_log_start_may_name_its_job_for_the_status_reporter() -> None:
    """The announce copy carries repo/pr/push; the plain log copy stays the Rust shape."""
    plain = example("build-log-start.json")
    assert BuildLogStart.from_json(plain).repo is None and "repo" not in BuildLogStart.from_json(plain).to_json()
    job = example("build-job.push.json")
    announced = {**plain, "repo": job["repo"], "pr": job["pr"], "push": job["push"], "request_id": job["request_id"]}
    start = BuildLogStart.from_json(announced)
    assert start.repo is not None and start.pr is not None and start.push is not None
    assert start.request_id == job["request_id"] and "request_id" not in BuildLogStart.from_json(plain).to_json()
    assert start.to_json() == announced
