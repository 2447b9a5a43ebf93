"""The builder's ack policy (SPEC §5): every case it distinguishes → one verdict.

A job killed mid-build (the builder process dies) is no case here: nothing was
acked, so the broker hands the job to another builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto

from tickborg.filters.policy import Verdict


class Case(Enum):
    UNDECODABLE = auto()
    NO_PROJECTS = auto()
    CHECKOUT_FAILED = auto()
    HEAD_MISSING = auto()
    MERGE_CONFLICT = auto()
    BUILD_RAN = auto()
    LOG_REFUSED = auto()
    INTERNAL_ERROR = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.NO_PROJECTS: Verdict.PUBLISH_ACK,  # a Skipped result naming the skipped attrs
    Case.CHECKOUT_FAILED: Verdict.NACK_REQUEUE,  # clone or fetch failed: network, remote error
    Case.HEAD_MISSING: Verdict.PUBLISH_ACK,  # force-pushed away: a Skipped result saying so
    Case.MERGE_CONFLICT: Verdict.PUBLISH_ACK,  # a Failure result, output ["Merge failed"]
    Case.BUILD_RAN: Verdict.PUBLISH_ACK,  # the log streamed, then a Success/Failure/TimedOut result
    Case.LOG_REFUSED: Verdict.NACK_REQUEUE,  # the broker refused or stopped confirming a log message
    Case.INTERNAL_ERROR: Verdict.PUBLISH_ACK,  # an UnexpectedError result
}
