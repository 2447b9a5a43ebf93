"""Webhook payloads as frozen models: pull_request, issue_comment, push, check_run, check_suite.

Only the fields tickborg decides on are kept; everything else GitHub sends is
ignored. A payload that lacks a needed field, or has one of the wrong type,
raises `DecodeError` naming the field by its dotted path, so the runtime can
dead-letter it with a useful reason.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

import attrs

from tickborg.github.fields import field, login, nested, optional, strings, top_object, typed

_TAG_PREFIX = "refs/tags/"
_BRANCH_PREFIX = "refs/heads/"


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
        repo, path = nested(payload, "repository")
        owner, owner_path = nested(repo, "owner", path)
        return cls(
            owner=field(owner, "login", str, owner_path),
            name=field(repo, "name", str, path),
            full_name=field(repo, "full_name", str, path),
            clone_url=field(repo, "clone_url", str, path),
            html_url=field(repo, "html_url", str, path),
        )


def _installation_id(payload: Mapping[str, Any]) -> int | None:
    """The App installation that sent the hook (absent on repository webhooks)."""
    if payload.get("installation") is None:
        return None
    installation, path = nested(payload, "installation")
    return field(installation, "id", int, path)


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
        top = top_object(payload)
        pr, path = nested(top, "pull_request")
        head, head_path = nested(pr, "head", path)
        base, base_path = nested(pr, "base", path)
        changes = optional(top, "changes", dict, "", {})
        return cls(
            action=field(top, "action", str),
            number=field(top, "number", int),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            state=field(pr, "state", str, path),
            # Older GitHub Enterprise servers omit `draft`; such PRs are not drafts.
            draft=optional(pr, "draft", bool, path, False),
            title=field(pr, "title", str, path),
            user_login=login(pr, "user", path),
            head_sha=field(head, "sha", str, head_path),
            head_ref=field(head, "ref", str, head_path),
            base_sha=field(base, "sha", str, base_path),
            base_ref=field(base, "ref", str, base_path),
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
        top = top_object(payload)
        comment, comment_path = nested(top, "comment")
        issue, issue_path = nested(top, "issue")
        return cls(
            action=field(top, "action", str),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            comment_id=field(comment, "id", int, comment_path),
            comment_body=optional(comment, "body", str, comment_path, ""),
            comment_user_login=login(comment, "user", comment_path),
            issue_number=field(issue, "number", int, issue_path),
            issue_state=field(issue, "state", str, issue_path),
            issue_title=field(issue, "title", str, issue_path),
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
        commit = typed(data, dict, path)
        return cls(
            id=field(commit, "id", str, path),
            message=field(commit, "message", str, path),
            added=strings(commit, "added", path),
            removed=strings(commit, "removed", path),
            modified=strings(commit, "modified", path),
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
        top = top_object(payload)
        return cls(
            ref=field(top, "ref", str),
            before=field(top, "before", str),
            after=field(top, "after", str),
            created=field(top, "created", bool),
            deleted=field(top, "deleted", bool),
            forced=field(top, "forced", bool),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            commits=tuple(
                PushCommit.from_json(c, f"commits[{i}]")
                for i, c in enumerate(field(top, "commits", list))
            ),
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
# check_run, check_suite: a "Re-run" pressed on GitHub (action `rerequested`).


def _app_id(obj: Mapping[str, Any], path: str) -> int | None:
    """The id of the GitHub App that owns a check run or suite (null when none does)."""
    if obj.get("app") is None:
        return None
    app, app_path = nested(obj, "app", path)
    return field(app, "id", int, app_path)


def _pull_request_numbers(obj: Mapping[str, Any], path: str) -> tuple[int, ...]:
    """The PRs whose head is the checked commit; GitHub leaves out PRs from forks."""
    full = f"{path}.pull_requests"
    return tuple(
        field(typed(pr, dict, f"{full}[{i}]"), "number", int, f"{full}[{i}]")
        for i, pr in enumerate(field(obj, "pull_requests", list, path))
    )


@attrs.frozen
class CheckRunEvent:
    action: str
    repository: Repository
    installation_id: int | None
    sender_login: str
    check_run_id: int
    name: str
    head_sha: str
    external_id: str | None
    app_id: int | None
    pull_requests: tuple[int, ...]

    @classmethod
    def from_payload(cls, payload: Any) -> CheckRunEvent:
        top = top_object(payload)
        run, path = nested(top, "check_run")
        return cls(
            action=field(top, "action", str),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            sender_login=login(top, "sender"),
            check_run_id=field(run, "id", int, path),
            name=field(run, "name", str, path),
            head_sha=field(run, "head_sha", str, path),
            external_id=optional(run, "external_id", str, path, None),
            app_id=_app_id(run, path),
            pull_requests=_pull_request_numbers(run, path),
        )


@attrs.frozen
class CheckSuiteEvent:
    action: str
    repository: Repository
    installation_id: int | None
    sender_login: str
    check_suite_id: int
    head_sha: str
    app_id: int | None
    pull_requests: tuple[int, ...]

    @classmethod
    def from_payload(cls, payload: Any) -> CheckSuiteEvent:
        top = top_object(payload)
        suite, path = nested(top, "check_suite")
        return cls(
            action=field(top, "action", str),
            repository=Repository.from_payload(top),
            installation_id=_installation_id(top),
            sender_login=login(top, "sender"),
            check_suite_id=field(suite, "id", int, path),
            head_sha=field(suite, "head_sha", str, path),
            app_id=_app_id(suite, path),
            pull_requests=_pull_request_numbers(suite, path),
        )


# --------------------------------------------------------------------------
# Dispatch by event name (the X-GitHub-Event header / routing key prefix).

Event = Union[PullRequestEvent, IssueCommentEvent, PushEvent, CheckRunEvent, CheckSuiteEvent]

_PARSERS: dict[str, Callable[[Any], Event]] = {
    "pull_request": PullRequestEvent.from_payload,
    "issue_comment": IssueCommentEvent.from_payload,
    "push": PushEvent.from_payload,
    "check_run": CheckRunEvent.from_payload,
    "check_suite": CheckSuiteEvent.from_payload,
}


def parse_event(event: str, payload: Any) -> Event | None:
    """The model for `event`, or None for events tickborg does not act on (ping, ...)."""
    parser = _PARSERS.get(event)
    return None if parser is None else parser(payload)
