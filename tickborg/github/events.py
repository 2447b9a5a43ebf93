"""Webhook payloads as frozen models: pull_request, issue_comment, push.

Only the fields tickborg decides on are kept; everything else GitHub sends is
ignored. A payload that lacks a needed field, or has one of the wrong type,
raises `DecodeError` naming the field by its dotted path, so the runtime can
dead-letter it with a useful reason.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar, Union

import attrs

from tickborg.errors import DecodeError

T = TypeVar("T")

_TAG_PREFIX = "refs/tags/"
_BRANCH_PREFIX = "refs/heads/"


# --------------------------------------------------------------------------
# Field access that names the failing field.


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CHECKS: dict[type, tuple[str, Callable[[Any], bool]]] = {
    str: ("a string", lambda v: isinstance(v, str)),
    int: ("an integer", _is_int),
    bool: ("a boolean", lambda v: isinstance(v, bool)),
    dict: ("an object", lambda v: isinstance(v, dict)),
    list: ("a list", lambda v: isinstance(v, list)),
}


def _typed(value: Any, kind: type[T], path: str) -> T:
    what, check = _CHECKS[kind]
    if not check(value):
        raise DecodeError(f"{path}: expected {what}, got {_describe(value)}")
    return value


def _field(obj: Mapping[str, Any], key: str, kind: type[T], path: str) -> T:
    """`obj[key]` of type `kind`; `path` is obj's own dotted path ("" at the top)."""
    full = f"{path}.{key}" if path else key
    if key not in obj:
        raise DecodeError(f"{full}: missing")
    return _typed(obj[key], kind, full)


def _optional(obj: Mapping[str, Any], key: str, kind: type[T], path: str, default: T) -> T:
    if obj.get(key) is None:
        return default
    return _field(obj, key, kind, path)


def _object(obj: Mapping[str, Any], key: str, path: str) -> tuple[dict[str, Any], str]:
    """A nested object and its dotted path, for reading its own fields."""
    full = f"{path}.{key}" if path else key
    return _field(obj, key, dict, path), full


def _strings(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    full = f"{path}.{key}" if path else key
    items = _field(obj, key, list, path)
    return tuple(_typed(item, str, f"{full}[{i}]") for i, item in enumerate(items))


def _top(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise DecodeError(f"payload: expected an object, got {_describe(payload)}")
    return payload


# --------------------------------------------------------------------------
# Shared parts.


@attrs.frozen
class Repository:
    """The fields of `repository` that the wire `Repo` and the ACL need."""

    owner: str
    name: str
    full_name: str
    clone_url: str
    html_url: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Repository:
        repo, path = _object(payload, "repository", "")
        owner, owner_path = _object(repo, "owner", path)
        return cls(
            owner=_field(owner, "login", str, owner_path),
            name=_field(repo, "name", str, path),
            full_name=_field(repo, "full_name", str, path),
            clone_url=_field(repo, "clone_url", str, path),
            html_url=_field(repo, "html_url", str, path),
        )


def _installation_id(payload: Mapping[str, Any]) -> int | None:
    """The App installation that sent the hook (absent on repository webhooks)."""
    if payload.get("installation") is None:
        return None
    installation, path = _object(payload, "installation", "")
    return _field(installation, "id", int, path)


def _login(obj: Mapping[str, Any], key: str, path: str) -> str:
    user, user_path = _object(obj, key, path)
    return _field(user, "login", str, user_path)


# --------------------------------------------------------------------------
# pull_request


@attrs.frozen
class PullRequestEvent:
    action: str
    number: int
    repository: Repository
    installation_id: int | None
    state: str
    draft: bool
    title: str
    user_login: str
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    # `changes.base` is present when an `edited` action changed the target branch.
    base_changed: bool

    @classmethod
    def from_payload(cls, payload: Any) -> PullRequestEvent:
        top = _top(payload)
        pr, path = _object(top, "pull_request", "")
        head, head_path = _object(pr, "head", path)
        base, base_path = _object(pr, "base", path)
        changes = _optional(top, "changes", dict, "", {})
        return cls(
            action=_field(top, "action", str, ""),
            number=_field(top, "number", int, ""),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            state=_field(pr, "state", str, path),
            # Older GitHub Enterprise servers omit `draft`; such PRs are not drafts.
            draft=_optional(pr, "draft", bool, path, False),
            title=_field(pr, "title", str, path),
            user_login=_login(pr, "user", path),
            head_sha=_field(head, "sha", str, head_path),
            head_ref=_field(head, "ref", str, head_path),
            base_sha=_field(base, "sha", str, base_path),
            base_ref=_field(base, "ref", str, base_path),
            base_changed="base" in changes,
        )


# --------------------------------------------------------------------------
# issue_comment


@attrs.frozen
class IssueCommentEvent:
    action: str
    repository: Repository
    installation_id: int | None
    comment_id: int
    comment_body: str
    comment_user_login: str
    issue_number: int
    issue_state: str
    issue_title: str
    # GitHub sends PR conversations as issue comments; only those have `issue.pull_request`.
    is_pull_request: bool

    @classmethod
    def from_payload(cls, payload: Any) -> IssueCommentEvent:
        top = _top(payload)
        comment, comment_path = _object(top, "comment", "")
        issue, issue_path = _object(top, "issue", "")
        return cls(
            action=_field(top, "action", str, ""),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            comment_id=_field(comment, "id", int, comment_path),
            comment_body=_optional(comment, "body", str, comment_path, ""),
            comment_user_login=_login(comment, "user", comment_path),
            issue_number=_field(issue, "number", int, issue_path),
            issue_state=_field(issue, "state", str, issue_path),
            issue_title=_field(issue, "title", str, issue_path),
            is_pull_request="pull_request" in issue,
        )


# --------------------------------------------------------------------------
# push


@attrs.frozen
class PushCommit:
    id: str
    message: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Any, path: str) -> PushCommit:
        commit = _typed(data, dict, path)
        return cls(
            id=_field(commit, "id", str, path),
            message=_field(commit, "message", str, path),
            added=_strings(commit, "added", path),
            removed=_strings(commit, "removed", path),
            modified=_strings(commit, "modified", path),
        )


@attrs.frozen
class PushEvent:
    ref: str
    before: str
    after: str
    created: bool
    deleted: bool
    forced: bool
    repository: Repository
    installation_id: int | None
    commits: tuple[PushCommit, ...]

    @classmethod
    def from_payload(cls, payload: Any) -> PushEvent:
        top = _top(payload)
        commits = _field(top, "commits", list, "")
        return cls(
            ref=_field(top, "ref", str, ""),
            before=_field(top, "before", str, ""),
            after=_field(top, "after", str, ""),
            created=_field(top, "created", bool, ""),
            deleted=_field(top, "deleted", bool, ""),
            forced=_field(top, "forced", bool, ""),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            commits=tuple(PushCommit.from_json(c, f"commits[{i}]") for i, c in enumerate(commits)),
        )

    def is_tag(self) -> bool:
        return self.ref.startswith(_TAG_PREFIX)

    def branch(self) -> str | None:
        """The branch name (may contain `/`), or None when the ref is not a branch."""
        if not self.ref.startswith(_BRANCH_PREFIX):
            return None
        return self.ref[len(_BRANCH_PREFIX) :]

    def is_zero_sha(self) -> bool:
        # All zeros, whatever the hash length (SHA-1 or SHA-256 repositories).
        return set(self.after) == {"0"}

    def is_delete(self) -> bool:
        return self.deleted or self.is_zero_sha()

    def changed_files(self) -> tuple[str, ...]:
        """Files added, removed or modified by any pushed commit, first mention first."""
        seen = (path for c in self.commits for path in (*c.added, *c.removed, *c.modified))
        return tuple(dict.fromkeys(seen))


# --------------------------------------------------------------------------
# Dispatch by event name (the X-GitHub-Event header / routing key prefix).

Event = Union[PullRequestEvent, IssueCommentEvent, PushEvent]

_PARSERS: dict[str, Callable[[Any], Event]] = {
    "pull_request": PullRequestEvent.from_payload,
    "issue_comment": IssueCommentEvent.from_payload,
    "push": PushEvent.from_payload,
}


def parse_event(event: str, payload: Any) -> Event | None:
    """The model for `event`, or None for events tickborg does not act on (ping, ...)."""
    parser = _PARSERS.get(event)
    return None if parser is None else parser(payload)
