"""Request bodies for the write operations, cut to GitHub's limits.

Pure functions and frozen values: what the client sends is decided here and
can be tested without HTTP.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

import attrs

STATUS_DESCRIPTION_LIMIT = 140
CHECK_RUN_TEXT_LIMIT = 65_535
_ELLIPSIS = "…"

StatusState = Literal["error", "failure", "pending", "success"]
CheckRunStatus = Literal["queued", "in_progress", "completed"]
Conclusion = Literal[
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"
]


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as GitHub writes and expects it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def status_body(
    state: StatusState, context: str, description: str, target_url: str | None
) -> dict[str, Any]:
    return _without_none(
        {
            "state": state,
            "context": context,
            "description": truncate(description, STATUS_DESCRIPTION_LIMIT),
            "target_url": target_url,
        }
    )


@attrs.frozen
class CheckRunOutput:
    title: str
    summary: str
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_none(
            {
                "title": self.title,
                "summary": truncate(self.summary, CHECK_RUN_TEXT_LIMIT),
                "text": None if self.text is None else truncate(self.text, CHECK_RUN_TEXT_LIMIT),
            }
        )


@attrs.frozen
class CheckRunFields:
    """What a check run says. Fields left None are not sent (so an update keeps them)."""

    status: CheckRunStatus | None = None
    conclusion: Conclusion | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    output: CheckRunOutput | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_none(
            {
                "status": self.status,
                "conclusion": self.conclusion,
                "details_url": self.details_url,
                "external_id": self.external_id,
                "started_at": None if self.started_at is None else timestamp(self.started_at),
                "completed_at": None if self.completed_at is None else timestamp(self.completed_at),
                "output": None if self.output is None else self.output.to_json(),
            }
        )


def labels_body(labels: tuple[str, ...]) -> dict[str, Any]:
    return {"labels": list(labels)}


def comment_body(body: str) -> dict[str, Any]:
    return {"body": body}
