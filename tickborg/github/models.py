"""What tickborg reads back from the REST API, as frozen values.

Only the fields workers use are kept; a response lacking one raises
`DecodeError`, which the transport turns into a classified `Error`.
"""

from __future__ import annotations

from typing import Any

import attrs

from tickborg.github.fields import field, login, nested, optional, timestamp, top_object, typed


@attrs.frozen
class Status:
    context: str
    state: str
    description: str | None
    target_url: str | None

    @classmethod
    def from_json(cls, data: Any) -> Status:
        status = top_object(data, "status")
        return cls(
            context=field(status, "context", str),
            state=field(status, "state", str),
            description=optional(status, "description", str, "", None),
            target_url=optional(status, "target_url", str, "", None),
        )


@attrs.frozen
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    details_url: str | None
    external_id: str | None

    @classmethod
    def from_json(cls, data: Any) -> CheckRun:
        run = top_object(data, "check run")
        return cls(
            id=field(run, "id", int),
            name=field(run, "name", str),
            head_sha=field(run, "head_sha", str),
            status=field(run, "status", str),
            conclusion=optional(run, "conclusion", str, "", None),
            details_url=optional(run, "details_url", str, "", None),
            external_id=optional(run, "external_id", str, "", None),
        )


@attrs.frozen
class Issue:
    number: int
    title: str
    state: str
    user_login: str
    is_pull_request: bool
    labels: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Any) -> Issue:
        issue = top_object(data, "issue")
        labels = field(issue, "labels", list)
        return cls(
            number=field(issue, "number", int),
            title=field(issue, "title", str),
            state=field(issue, "state", str),
            user_login=login(issue, "user"),
            is_pull_request=issue.get("pull_request") is not None,
            labels=tuple(
                field(typed(label, dict, f"labels[{i}]"), "name", str, f"labels[{i}]")
                for i, label in enumerate(labels)
            ),
        )


@attrs.frozen
class PullRequest:
    number: int
    title: str
    state: str
    user_login: str
    draft: bool
    merged: bool
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str

    @classmethod
    def from_json(cls, data: Any) -> PullRequest:
        pr = top_object(data, "pull request")
        head, head_path = nested(pr, "head")
        base, base_path = nested(pr, "base")
        return cls(
            number=field(pr, "number", int),
            title=field(pr, "title", str),
            state=field(pr, "state", str),
            user_login=login(pr, "user"),
            draft=optional(pr, "draft", bool, "", False),
            merged=optional(pr, "merged", bool, "", False),
            head_sha=field(head, "sha", str, head_path),
            head_ref=field(head, "ref", str, head_path),
            base_sha=field(base, "sha", str, base_path),
            base_ref=field(base, "ref", str, base_path),
        )


@attrs.frozen
class PullRequestFile:
    filename: str
    status: str  # added, removed, modified, renamed, copied, changed, unchanged
    previous_filename: str | None  # set for renames: the old path counts as changed too

    @classmethod
    def from_json(cls, data: Any) -> PullRequestFile:
        entry = top_object(data, "file")
        return cls(
            filename=field(entry, "filename", str),
            status=field(entry, "status", str),
            previous_filename=optional(entry, "previous_filename", str, "", None),
        )


@attrs.frozen
class Comment:
    id: int
    html_url: str

    @classmethod
    def from_json(cls, data: Any) -> Comment:
        comment = top_object(data, "comment")
        return cls(id=field(comment, "id", int), html_url=field(comment, "html_url", str))


@attrs.frozen
class HookDelivery:
    """One attempt at delivering a webhook event, as the App's delivery log lists it."""

    id: int
    guid: str  # the event's X-GitHub-Delivery; every redelivery of it shares it
    delivered_at: float  # epoch seconds
    redelivery: bool
    status_code: int  # 0 when the receiver gave no HTTP answer
    event: str
    action: str | None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300

    @classmethod
    def from_json(cls, data: Any) -> HookDelivery:
        delivery = top_object(data, "delivery")
        return cls(
            id=field(delivery, "id", int),
            guid=field(delivery, "guid", str),
            delivered_at=timestamp(delivery, "delivered_at"),
            redelivery=field(delivery, "redelivery", bool),
            status_code=field(delivery, "status_code", int),
            event=field(delivery, "event", str),
            action=optional(delivery, "action", str, "", None),
        )


def list_of(data: Any, what: str) -> list[Any]:
    return typed(data, list, what)
