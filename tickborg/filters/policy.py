"""Policy tables: every case a filter distinguishes maps to one verdict.

A filter classifies an event into a `Decision` (its case, plus the messages
that case publishes); `enact` turns decisions into runtime actions by looking
the verdict up in the filter's table, so the table alone says what is acked,
retried or dead-lettered.
"""

from __future__ import annotations

from enum import Enum
from typing import Collection, Generic, Mapping, TypeVar

import attrs

from tickborg.github.errors import CommitStatusError, ExpiredCreds, InternalError, MissingSha, RateLimited
from tickborg.logsetup import get_logger
from tickborg.runtime.actions import Ack, Action, NackDump, NackRequeue, Publish

C = TypeVar("C", bound=Enum)

log = get_logger(__name__)


class Verdict(Enum):
    PUBLISH_ACK = "publish, then ack"
    ACK = "ack"
    NACK_REQUEUE = "retry later"
    NACK_DUMP = "dead-letter"


@attrs.frozen
class Decision(Generic[C]):
    """A filter's decision about one event (or one command of a comment)."""

    case: C
    publishes: tuple[Publish, ...] = ()
    # Why, in words: logged, and the reason given with a nack.
    reason: str = ""
    # For a retry: not before this time (epoch seconds), e.g. a rate-limit reset.
    not_before: float | None = None


@attrs.frozen
class GitHubCases(Generic[C]):
    """A table's rows for a failed GitHub call, one per variant of `tickborg.github.errors`."""

    expired_creds: C
    internal_error: C
    rate_limited: C
    missing_sha: C
    error: C  # any other failure (403, 404, an invalid 422, ...)

    def decide(self, exc: CommitStatusError) -> Decision[C]:
        if isinstance(exc, RateLimited):
            return Decision(self.rate_limited, reason=exc.message, not_before=exc.reset_at)
        if isinstance(exc, ExpiredCreds):
            return Decision(self.expired_creds, reason=exc.message)
        if isinstance(exc, InternalError):
            return Decision(self.internal_error, reason=exc.message)
        if isinstance(exc, MissingSha):
            return Decision(self.missing_sha, reason=exc.message)
        return Decision(self.error, reason=exc.message)


def enact(policy: Mapping[C, Verdict], *decisions: Decision[C], quiet: Collection[C] = ()) -> list[Action]:
    """The actions for one delivery: the publishes of every decision whose
    verdict publishes, then the single verdict all decisions share. Cases in
    `quiet` (routine at a high rate, like a stored log line) log at debug only.

    Several decisions arise from a comment holding several commands; each is
    decided on its own, and mixing verdicts (say, ack one command and retry
    another) is a bug, raised so the runtime retries rather than loses work.
    """
    publishes: list[Action] = []
    verdicts: set[Verdict] = set()
    for decision in decisions:
        verdict = policy[decision.case]
        (log.debug if decision.case in quiet else log.info)(
            "filtered", case=decision.case.name.lower(), verdict=verdict.value, reason=decision.reason
        )
        if (verdict is Verdict.PUBLISH_ACK) != bool(decision.publishes):
            raise ValueError(f"case {decision.case.name} is {verdict.value!r} but publishes {len(decision.publishes)}")
        publishes.extend(decision.publishes)
        verdicts.add(Verdict.ACK if verdict is Verdict.PUBLISH_ACK else verdict)
    if len(verdicts) != 1:
        raise ValueError(f"decisions disagree on the verdict: {sorted(v.value for v in verdicts)}")
    return [*publishes, _final(verdicts.pop(), decisions[-1])]


def _final(verdict: Verdict, decision: Decision[C]) -> Action:
    if verdict is Verdict.NACK_REQUEUE:
        return NackRequeue(decision.reason, decision.not_before)
    if verdict is Verdict.NACK_DUMP:
        return NackDump(decision.reason)
    return Ack()
