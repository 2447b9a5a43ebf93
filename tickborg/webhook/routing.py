"""The routing key of a delivery on `github-events`: `{event}.{owner}/{repo}` (SPEC §2).

Repository names may contain dots (`acme/site.github.io`); the bindings use
`#`, so the key is used as it is, never escaped.
"""

from __future__ import annotations

import re
from typing import Any

UNKNOWN_EVENT = "unknown"
NO_REPOSITORY = "-"
# An event name becomes the first routing-key segment: it must not add segments
# or wildcards of its own.
_EVENT = re.compile(r"[A-Za-z0-9_]{1,64}")


def is_valid_event(name: str) -> bool:
    return _EVENT.fullmatch(name) is not None


def event_name(header: str | None) -> str:
    """The event named by `X-GitHub-Event`, `unknown` when the header is absent."""
    return UNKNOWN_EVENT if header is None else header.strip()


def repository_name(payload: Any) -> str | None:
    """`repository.full_name`, or None (organisation-level events have no repository)."""
    repository = payload.get("repository") if isinstance(payload, dict) else None
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name if isinstance(name, str) and name else None


def routing_key(event: str, repository: str | None) -> str:
    return f"{event}.{repository or NO_REPOSITORY}"
