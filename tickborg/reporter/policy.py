"""The status reporter's ack policy as one table (SPEC §5), and the pure steps that pick a row.

GitHub failures are classified once (`tickborg.github.errors`); the variant
alone decides between a retry and an ack.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum, auto
from typing import Mapping

from tickborg.filters.policy import Decision, GitHubCases, Verdict
from tickborg.github.errors import CommitStatusError
from tickborg.logsetup import get_logger
from tickborg.messages import BuildResult, QueuedBuildJobs
from tickborg.reporter.inputs import BuildProgress
from tickborg.reporter.progress import Report
from tickborg.reporter.render import finished_report, queued_reports, started_report
from tickborg.reporter.runs import LogLinks, started_run

log = get_logger(__name__)


class Case(Enum):
    UNDECODABLE = auto()
    QUEUED = auto()
    STARTED = auto()
    START_UNMATCHED = auto()
    FINISHED = auto()
    STATUS_WRITE = auto()
    LABELS_WRITE = auto()
    EXPIRED_CREDS = auto()
    INTERNAL_ERROR = auto()
    RATE_LIMITED = auto()
    MISSING_SHA = auto()
    GITHUB_ERROR = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.QUEUED: Verdict.ACK,  # a queued run per architecture (or left as it is)
    Case.STARTED: Verdict.ACK,  # the run in_progress (unless already further)
    # A start that does not name its job (repo, pr) cannot be matched to a run.
    Case.START_UNMATCHED: Verdict.ACK,
    Case.FINISHED: Verdict.ACK,  # the run completed with its conclusion
    # The mass-rebuilder's: written unless older than, or the same as, what is shown.
    Case.STATUS_WRITE: Verdict.ACK,
    Case.LABELS_WRITE: Verdict.ACK,  # added and removed; one already there or gone is fine
    Case.EXPIRED_CREDS: Verdict.NACK_REQUEUE,  # 401 even with a fresh token
    Case.INTERNAL_ERROR: Verdict.NACK_REQUEUE,  # 5xx, connection error, timeout
    Case.RATE_LIMITED: Verdict.NACK_REQUEUE,  # not before the reset time
    Case.MISSING_SHA: Verdict.ACK,  # the commit was force-pushed away
    # 403, 404, an invalid 422...: a retry would meet the same answer.
    Case.GITHUB_ERROR: Verdict.ACK,
}


def triage(job: BuildProgress, links: LogLinks, now: datetime) -> tuple[Case, tuple[Report, ...]]:
    """The case a message falls in when GitHub answers, and what it says about which runs."""
    if isinstance(job, QueuedBuildJobs):
        return Case.QUEUED, queued_reports(job, links)
    if isinstance(job, BuildResult):
        return Case.FINISHED, (finished_report(job, links, now),)
    run = started_run(job)
    if run is None:
        log.warning("a build start without repo and pr names no check run", system=job.system, attempt_id=job.attempt_id)
        return Case.START_UNMATCHED, ()
    return Case.STARTED, (started_report(job, run, links, now),)


GITHUB_FAILURES = GitHubCases(
    expired_creds=Case.EXPIRED_CREDS,
    internal_error=Case.INTERNAL_ERROR,
    rate_limited=Case.RATE_LIMITED,
    missing_sha=Case.MISSING_SHA,
    error=Case.GITHUB_ERROR,
)


def github_failure(exc: CommitStatusError) -> Decision[Case]:
    """The row a failed GitHub call puts the message in."""
    decision = GITHUB_FAILURES.decide(exc)
    if decision.case is Case.GITHUB_ERROR:
        log.error("github refused the write; message dropped", status=exc.status, error=exc.message, body=exc.body)
    return decision
