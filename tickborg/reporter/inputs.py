"""What the status reporter consumes from `build-results`, decoded."""

from __future__ import annotations

from typing import Any, Union

import attrs

from tickborg import messages
from tickborg.errors import DecodeError
from tickborg.messages import BuildLogStart, BuildResult, QueuedBuildJobs

Incoming = Union[QueuedBuildJobs, BuildResult, BuildLogStart]

# Tried in this order. The shapes cannot be confused: only QueuedBuildJobs has
# `job`, only a BuildResult `output` and `request_id`, only a BuildLogStart `identity`.
_KINDS: tuple[type[QueuedBuildJobs] | type[BuildResult] | type[BuildLogStart], ...] = (
    QueuedBuildJobs,
    BuildResult,
    BuildLogStart,
)


@attrs.frozen
class _FirstOf:
    def from_json(self, value: Any) -> Incoming:
        problems = []
        for kind in _KINDS:
            try:
                return kind.from_json(value)
            except DecodeError as exc:
                problems.append(f"not a {kind.__name__} ({exc})")
        raise DecodeError("; ".join(problems))


def decode_incoming(body: bytes) -> Incoming:
    """The message a `build-results` body holds; `DecodeError` when it is none of them."""
    return messages.decode(_FirstOf(), body)
