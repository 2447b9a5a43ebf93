"""The JSON messages tickborg's workers exchange (SPEC §3).

The shapes are those of the Rust tickborg's serde types, so Python and Rust
workers can share queues. Each message class has `from_json(value)`, which
raises `DecodeError` naming the offending field by its path (`job.pr.number`),
and `to_json()`, which returns the JSON value to publish.

Decoding follows serde's rules: unknown keys are ignored, and a nullable field
(an `Option` in Rust) may also be absent, which reads as null.
"""

from __future__ import annotations

import json
import re
import uuid
from enum import Enum
from typing import Any, Callable, Iterable, Protocol, Self, TypeVar, Union

import attrs

from tickborg.errors import DecodeError, json_kind

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# A field reader checks one JSON value and converts it; `path` names it in errors.
Reader = Callable[[Any, str], T]

# Where a message goes: (exchange, routing key), either of which may be null.
ExchangeQueue = tuple[str | None, str | None]

PROJECT_SUBSET = "Project"
LOGS_EXCHANGE = "logs"
BUILD_RESULTS_EXCHANGE = "build-results"
STATUS_STATES = ("error", "failure", "pending", "success")


class _FromJson(Protocol[T_co]):
    def from_json(self, value: Any) -> T_co: ...


def decode(cls: _FromJson[T], body: bytes) -> T:
    """Decode an AMQP body into a message of type `cls`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"body is not UTF-8: {exc}") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DecodeError(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("body is not JSON we accept: nested too deeply") from None
    return cls.from_json(value)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are Python extensions that serde_json refuses.
    raise DecodeError(f"body is not JSON: {name} is not a JSON value")


# --------------------------------------------------------------------------
# Field readers.


def _fail(path: str, expected: str, value: Any) -> DecodeError:
    return DecodeError(f"{path or 'message'}: expected {expected}, got {json_kind(value)}")


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, "a string", value)
    return value


def _uint(value: Any, path: str) -> int:
    # bool is a subclass of int in Python, not in JSON; the Rust fields are u64.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(path, "a non-negative integer", value)
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, "true or false", value)
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, "a list", value)
    return value


def _strs(value: Any, path: str) -> tuple[str, ...]:
    return tuple(_str(item, f"{path}[{i}]") for i, item in enumerate(_list(value, path)))


def _seconds(value: Any, path: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise _fail(path, "a non-negative number", value)
    return float(value)


def _state(value: Any, path: str) -> str:
    if _str(value, path) not in STATUS_STATES:
        raise DecodeError(f"{path}: expected one of {', '.join(STATUS_STATES)}, got {json.dumps(value)}")
    return value


def _nullable(read: Reader[T]) -> Reader[T | None]:
    return lambda value, path: None if value is None else read(value, path)


def _exchange_queue(value: Any, path: str) -> ExchangeQueue:
    items = _list(value, path)
    if len(items) != 2:
        raise DecodeError(f"{path}: expected [exchange, routing key], got {len(items)} items")
    read = _nullable(_str)
    return read(items[0], f"{path}[0]"), read(items[1], f"{path}[1]")


def _subset(value: Any, path: str) -> str:
    if _str(value, path) != PROJECT_SUBSET:
        raise DecodeError(f"{path}: unknown subset {json.dumps(value)}")
    return value


class _Object:
    """One JSON object being decoded, with its path for error messages."""

    __slots__ = ("data", "path")

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        self.data: dict[str, Any] = value
        self.path = path

    def at(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, read: Reader[T]) -> T:
        if name not in self.data:
            raise DecodeError(f"{self.at(name)}: missing")
        return read(self.data[name], self.at(name))

    def opt(self, name: str, read: Reader[T]) -> T | None:
        """A nullable field: absent and null both read as None, as serde reads an Option."""
        value = self.data.get(name)
        return None if value is None else read(value, self.at(name))


class _Message:
    """`from_json` for every message class; each defines `_read(value, path)`."""

    __slots__ = ()

    @classmethod
    def from_json(cls, value: Any) -> Self:
        return cls._read(value, "")

    @classmethod
    def _read(cls, value: Any, path: str) -> Self:
        raise NotImplementedError

    def to_json(self) -> Any:
        raise NotImplementedError


def _with_optional(value: dict[str, Any], name: str, field: _Message | None) -> dict[str, Any]:
    # serde's skip_serializing_if = "Option::is_none": absent rather than null.
    if field is not None:
        value[name] = field.to_json()
    return value


def _list_or_null(items: tuple[str, ...] | None) -> list[str] | None:
    return None if items is None else list(items)


# --------------------------------------------------------------------------
# Repositories, pull requests, pushes.


@attrs.frozen
class Repo(_Message):
    owner: str
    name: str
    full_name: str
    clone_url: str

    @classmethod
    def _read(cls, value: Any, path: str) -> Repo:
        f = _Object(value, path)
        return cls(
            owner=f.get("owner", _str),
            name=f.get("name", _str),
            full_name=f.get("full_name", _str),
            clone_url=f.get("clone_url", _str),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "name": self.name,
            "full_name": self.full_name,
            "clone_url": self.clone_url,
        }


@attrs.frozen
class Pr(_Message):
    target_branch: str | None
    number: int
    head_sha: str

    @classmethod
    def _read(cls, value: Any, path: str) -> Pr:
        f = _Object(value, path)
        return cls(
            target_branch=f.opt("target_branch", _str),
            number=f.get("number", _uint),
            head_sha=f.get("head_sha", _str),
        )

    def to_json(self) -> dict[str, Any]:
        return {"target_branch": self.target_branch, "number": self.number, "head_sha": self.head_sha}


@attrs.frozen
class PushTrigger(_Message):
    head_sha: str
    branch: str
    before_sha: str | None = None

    @classmethod
    def _read(cls, value: Any, path: str) -> PushTrigger:
        f = _Object(value, path)
        return cls(
            head_sha=f.get("head_sha", _str),
            branch=f.get("branch", _str),
            before_sha=f.opt("before_sha", _str),
        )

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"head_sha": self.head_sha, "branch": self.branch}
        if self.before_sha is not None:
            value["before_sha"] = self.before_sha
        return value


# --------------------------------------------------------------------------
# Jobs.


@attrs.frozen
class EvaluationJob(_Message):
    repo: Repo
    pr: Pr

    @classmethod
    def _read(cls, value: Any, path: str) -> EvaluationJob:
        f = _Object(value, path)
        return cls(repo=f.get("repo", Repo._read), pr=f.get("pr", Pr._read))

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo.to_json(), "pr": self.pr.to_json()}


def pr_logs_routing_key(repo: Repo, number: int) -> str:
    return f"{repo.full_name.lower()}.{number}"


def push_logs_routing_key(repo: Repo, branch: str) -> str:
    # A "/" in the branch would read as a path separator to the log collector.
    return f"{repo.full_name.lower()}.push.{branch.replace('/', '-')}"


@attrs.frozen
class BuildJob(_Message):
    repo: Repo
    pr: Pr
    subset: str | None
    attrs: tuple[str, ...]
    request_id: str
    logs: ExchangeQueue | None
    statusreport: ExchangeQueue | None
    push: PushTrigger | None = None

    @classmethod
    def for_pr(
        cls, repo: Repo, pr: Pr, attrs: Iterable[str], request_id: str | None = None
    ) -> BuildJob:
        return cls(
            repo=repo,
            pr=pr,
            subset=PROJECT_SUBSET,
            attrs=tuple(attrs),
            request_id=request_id or str(uuid.uuid4()),
            logs=(LOGS_EXCHANGE, pr_logs_routing_key(repo, pr.number)),
            statusreport=(BUILD_RESULTS_EXCHANGE, None),
        )

    @classmethod
    def for_push(
        cls, repo: Repo, push: PushTrigger, attrs: Iterable[str], request_id: str | None = None
    ) -> BuildJob:
        # Consumers written for PRs read the commit and branch from `pr`; number 0 marks a push.
        return cls(
            repo=repo,
            pr=Pr(target_branch=push.branch, number=0, head_sha=push.head_sha),
            subset=None,
            attrs=tuple(attrs),
            request_id=request_id or str(uuid.uuid4()),
            logs=(LOGS_EXCHANGE, push_logs_routing_key(repo, push.branch)),
            statusreport=(BUILD_RESULTS_EXCHANGE, None),
            push=push,
        )

    @classmethod
    def _read(cls, value: Any, path: str) -> BuildJob:
        f = _Object(value, path)
        return cls(
            repo=f.get("repo", Repo._read),
            pr=f.get("pr", Pr._read),
            subset=f.opt("subset", _subset),
            attrs=f.get("attrs", _strs),
            request_id=f.get("request_id", _str),
            logs=f.opt("logs", _exchange_queue),
            statusreport=f.opt("statusreport", _exchange_queue),
            push=f.opt("push", PushTrigger._read),
        )

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "repo": self.repo.to_json(),
            "pr": self.pr.to_json(),
            "subset": self.subset,
            "attrs": list(self.attrs),
            "request_id": self.request_id,
            "logs": None if self.logs is None else list(self.logs),
            "statusreport": None if self.statusreport is None else list(self.statusreport),
        }
        return _with_optional(value, "push", self.push)


@attrs.frozen
class QueuedBuildJobs(_Message):
    job: BuildJob
    architectures: tuple[str, ...]

    @classmethod
    def _read(cls, value: Any, path: str) -> QueuedBuildJobs:
        f = _Object(value, path)
        return cls(job=f.get("job", BuildJob._read), architectures=f.get("architectures", _strs))

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job.to_json(), "architectures": list(self.architectures)}


# --------------------------------------------------------------------------
# Results.


class BuildStatus(Enum):
    """The unit variants of tickborg's BuildStatus; `UnexpectedError` carries data."""

    SKIPPED = "Skipped"
    SUCCESS = "Success"
    FAILURE = "Failure"
    TIMED_OUT = "TimedOut"
    HASH_MISMATCH = "HashMismatch"

    @staticmethod
    def from_json(value: Any) -> AnyBuildStatus:
        return _build_status(value, "")

    def to_json(self) -> str:
        return self.value


@attrs.frozen
class UnexpectedError(_Message):
    err: str

    @classmethod
    def _read(cls, value: Any, path: str) -> UnexpectedError:
        f = _Object(value, path)
        # serde reads an enum variant with data from an object with exactly one key.
        if list(f.data) != ["UnexpectedError"]:
            raise DecodeError(f"{path or 'message'}: expected a status name or {{\"UnexpectedError\": ...}}")
        inner = _Object(f.data["UnexpectedError"], f.at("UnexpectedError"))
        return cls(err=inner.get("err", _str))

    def to_json(self) -> dict[str, Any]:
        return {"UnexpectedError": {"err": self.err}}


AnyBuildStatus = Union[BuildStatus, UnexpectedError]

_STATUS_NAMES = {status.value: status for status in BuildStatus}


def _build_status(value: Any, path: str) -> AnyBuildStatus:
    if isinstance(value, dict):
        return UnexpectedError._read(value, path)
    name = _str(value, path)
    if name not in _STATUS_NAMES:
        raise DecodeError(f"{path or 'message'}: unknown status {json.dumps(name)}")
    return _STATUS_NAMES[name]


@attrs.frozen
class LegacyStatus:
    """The status fields of a legacy (untagged) result, kept as received.

    Re-encoding a legacy result must give back what came in, so these travel
    with it; `BuildResult.status` is the status they stand for.
    """

    success: bool | None
    status: AnyBuildStatus | None

    def effective(self) -> AnyBuildStatus:
        if self.status is not None:
            return self.status
        if self.success is None:
            return BuildStatus.SKIPPED
        return BuildStatus.SUCCESS if self.success else BuildStatus.FAILURE


def _v1_tag(value: Any, path: str) -> str:
    # Reject other tags rather than read them as legacy: a newer shape must not be misread.
    if value != "V1":
        raise DecodeError(f"{path}: unknown result version (expected \"V1\")")
    return value


@attrs.frozen
class BuildResult(_Message):
    """A finished build. New results have `legacy` None and are encoded as V1."""

    repo: Repo
    pr: Pr
    system: str
    output: tuple[str, ...]
    attempt_id: str
    request_id: str
    status: AnyBuildStatus
    skipped_attrs: tuple[str, ...] | None
    attempted_attrs: tuple[str, ...] | None
    push: PushTrigger | None = None
    legacy: LegacyStatus | None = None

    @classmethod
    def _read(cls, value: Any, path: str) -> BuildResult:
        f = _Object(value, path)
        common = dict(
            repo=f.get("repo", Repo._read),
            pr=f.get("pr", Pr._read),
            system=f.get("system", _str),
            output=f.get("output", _strs),
            attempt_id=f.get("attempt_id", _str),
            request_id=f.get("request_id", _str),
            skipped_attrs=f.opt("skipped_attrs", _strs),
            attempted_attrs=f.opt("attempted_attrs", _strs),
            push=f.opt("push", PushTrigger._read),
        )
        if "tag" in f.data:
            f.get("tag", _v1_tag)
            return cls(status=f.get("status", _build_status), **common)
        legacy = LegacyStatus(success=f.opt("success", _bool), status=f.opt("status", _build_status))
        return cls(status=legacy.effective(), legacy=legacy, **common)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "repo": self.repo.to_json(),
            "pr": self.pr.to_json(),
            "system": self.system,
            "output": list(self.output),
            "attempt_id": self.attempt_id,
            "request_id": self.request_id,
            "skipped_attrs": _list_or_null(self.skipped_attrs),
            "attempted_attrs": _list_or_null(self.attempted_attrs),
        }
        if self.legacy is None:
            value["tag"] = "V1"
            value["status"] = self.status.to_json()
        else:
            value["success"] = self.legacy.success
            value["status"] = None if self.legacy.status is None else self.legacy.status.to_json()
        return _with_optional(value, "push", self.push)


# --------------------------------------------------------------------------
# Build logs.


@attrs.frozen
class BuildLogStart(_Message):
    """A build began. `repo`, `pr`, `push` and `request_id` are ours, optional, and left
    out when absent: they let the status reporter find the build's check run, the one
    showing that request, when a builder announces the start to `statusreport` (Rust
    readers ignore unknown keys)."""

    system: str
    identity: str
    attempt_id: str
    attempted_attrs: tuple[str, ...] | None
    skipped_attrs: tuple[str, ...] | None
    repo: Repo | None = None
    pr: Pr | None = None
    push: PushTrigger | None = None
    request_id: str | None = None

    @classmethod
    def _read(cls, value: Any, path: str) -> BuildLogStart:
        f = _Object(value, path)
        return cls(
            system=f.get("system", _str),
            identity=f.get("identity", _str),
            attempt_id=f.get("attempt_id", _str),
            attempted_attrs=f.opt("attempted_attrs", _strs),
            skipped_attrs=f.opt("skipped_attrs", _strs),
            repo=f.opt("repo", Repo._read),
            pr=f.opt("pr", Pr._read),
            push=f.opt("push", PushTrigger._read),
            request_id=f.opt("request_id", _str),
        )

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "system": self.system,
            "identity": self.identity,
            "attempt_id": self.attempt_id,
            "attempted_attrs": _list_or_null(self.attempted_attrs),
            "skipped_attrs": _list_or_null(self.skipped_attrs),
        }
        for name, part in (("repo", self.repo), ("pr", self.pr), ("push", self.push)):
            _with_optional(value, name, part)
        if self.request_id is not None:
            value["request_id"] = self.request_id
        return value


@attrs.frozen
class BuildLogMsg(_Message):
    system: str
    identity: str
    attempt_id: str
    line_number: int
    output: str

    @classmethod
    def _read(cls, value: Any, path: str) -> BuildLogMsg:
        f = _Object(value, path)
        return cls(
            system=f.get("system", _str),
            identity=f.get("identity", _str),
            attempt_id=f.get("attempt_id", _str),
            line_number=f.get("line_number", _uint),
            output=f.get("output", _str),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "identity": self.identity,
            "attempt_id": self.attempt_id,
            "line_number": self.line_number,
            "output": self.output,
        }


@attrs.frozen
class BuildLogChunk(_Message):
    """Ours: lines `first_line_number`, `first_line_number` + 1, ... of an attempt's log in
    one message (a Rust collector reads only `BuildLogMsg`, one line each)."""

    system: str
    identity: str
    attempt_id: str
    first_line_number: int
    lines: tuple[str, ...]

    @classmethod
    def _read(cls, value: Any, path: str) -> BuildLogChunk:
        f = _Object(value, path)
        return cls(
            system=f.get("system", _str),
            identity=f.get("identity", _str),
            attempt_id=f.get("attempt_id", _str),
            first_line_number=f.get("first_line_number", _uint),
            lines=f.get("lines", _strs),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "identity": self.identity,
            "attempt_id": self.attempt_id,
            "first_line_number": self.first_line_number,
            "lines": list(self.lines),
        }


# --------------------------------------------------------------------------
# Metrics events.

Scalar = Union[str, int, float, bool]

_EVENT_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _event_field(value: Any, path: str) -> Scalar:
    if not isinstance(value, (str, int, float, bool)):
        raise _fail(path, "a string, number or boolean", value)
    return value


@attrs.frozen
class Event(_Message):
    """One metrics event, in the shapes serde gives an externally tagged enum.

    `value` is None for a unit variant (`"job-received"`), a tuple for a tuple
    variant (`{"evaluation-duration": ["main", 12]}`) and a bare scalar for a
    one-field variant (`{"evaluation-duration-count": "main"}`), which is how
    the Rust workers send those; keeping the shape lets both sides read each other.
    """

    name: str
    value: Scalar | tuple[Scalar, ...] | None = None

    @classmethod
    def of(cls, name: str, *fields: Scalar) -> Event:
        """The event the Rust side would send for a variant with these fields."""
        if not fields:
            return cls(name)
        return cls(name, fields[0] if len(fields) == 1 else fields)

    @property
    def fields(self) -> tuple[Scalar, ...]:
        if self.value is None:
            return ()
        return self.value if isinstance(self.value, tuple) else (self.value,)

    @classmethod
    def _read(cls, value: Any, path: str) -> Event:
        if isinstance(value, str):
            return cls(_event_name(value, path))
        if not isinstance(value, dict) or len(value) != 1:
            raise DecodeError(f"{path or 'message'}: expected an event name or a one-key object")
        ((name, fields),) = value.items()
        at = f"{path}.{name}" if path else name
        if isinstance(fields, list):
            return cls(_event_name(name, path), tuple(_event_field(v, f"{at}[{i}]") for i, v in enumerate(fields)))
        return cls(_event_name(name, path), _event_field(fields, at))

    def to_json(self) -> Any:
        if self.value is None:
            return self.name
        return {self.name: list(self.value) if isinstance(self.value, tuple) else self.value}


def _event_name(name: str, path: str) -> str:
    if not _EVENT_NAME.fullmatch(name):
        raise DecodeError(f"{path or 'message'}: event name {json.dumps(name)} is not kebab-case")
    return name


def _events(value: Any, path: str) -> tuple[Event, ...]:
    return tuple(Event._read(item, f"{path}[{i}]") for i, item in enumerate(_list(value, path)))


@attrs.frozen
class EventMessage(_Message):
    sender: str
    events: tuple[Event, ...]

    @classmethod
    def _read(cls, value: Any, path: str) -> EventMessage:
        f = _Object(value, path)
        return cls(sender=f.get("sender", _str), events=f.get("events", _events))

    def to_json(self) -> dict[str, Any]:
        return {"sender": self.sender, "events": [event.to_json() for event in self.events]}


# --------------------------------------------------------------------------
# GitHub writes: ours, sent to the status reporter, the fleet's one GitHub writer.


@attrs.frozen
class CommitStatusWrite(_Message):
    """A commit status for the status reporter to write. `at` (epoch seconds, when
    the sender decided it) orders the writes of one context on one commit: an older
    one arriving after a newer one is not written."""

    repo: str  # owner/name
    sha: str
    context: str
    state: str  # one of STATUS_STATES
    description: str
    target_url: str | None
    at: float

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.repo, self.sha, self.context)

    @classmethod
    def _read(cls, value: Any, path: str) -> CommitStatusWrite:
        f = _Object(value, path)
        return cls(
            repo=f.get("repo", _str),
            sha=f.get("sha", _str),
            context=f.get("context", _str),
            state=f.get("state", _state),
            description=f.get("description", _str),
            target_url=f.opt("target_url", _str),
            at=f.get("at", _seconds),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "sha": self.sha,
            "context": self.context,
            "state": self.state,
            "description": self.description,
            "target_url": self.target_url,
            "at": self.at,
        }


@attrs.frozen
class LabelsWrite(_Message):
    """Labels for the status reporter to add to and remove from a pull request."""

    repo: str  # owner/name
    number: int
    add: tuple[str, ...]
    remove: tuple[str, ...]

    @classmethod
    def _read(cls, value: Any, path: str) -> LabelsWrite:
        f = _Object(value, path)
        return cls(
            repo=f.get("repo", _str),
            number=f.get("number", _uint),
            add=f.get("add_labels", _strs),
            remove=f.get("remove_labels", _strs),
        )

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "number": self.number, "add_labels": list(self.add), "remove_labels": list(self.remove)}
