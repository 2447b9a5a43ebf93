"""What the status reporter consumes from `build-results`, decoded."""

from __future__ import annotations

from typing import Any, Union

import attrs

from tickborg import messages
from tickborg.errors import DecodeError
from tickborg.messages import BuildLogStart, BuildResult, CommitStatusWrite, LabelsWrite, QueuedBuildJobs

# A build's progress: moves its check run.
BuildProgress = Union[QueuedBuildJobs, BuildResult, BuildLogStart]
# What another worker sends to be written as it is.
GitHubWrite = Union[CommitStatusWrite, LabelsWrite]
Incoming = Union[BuildProgress, GitHubWrite]

# Tried in this order. The shapes cannot be confused: only QueuedBuildJobs has
# `job`, only a BuildResult `output` and `request_id`, only a BuildLogStart
# `identity`, only a CommitStatusWrite `context`, only a LabelsWrite `add_labels`.
_KINDS: tuple[type[Incoming], ...] = (
    QueuedBuildJobs,
    BuildResult,
    BuildLogStart,
    CommitStatusWrite,
    LabelsWrite,
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
