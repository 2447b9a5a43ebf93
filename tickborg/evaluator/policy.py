"""The mass-rebuilder's ack policy: one table (SPEC §5), and which case each GitHub failure is."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto

from tickborg.filters.policy import GitHubCases, Verdict


class Case(Enum):
    UNDECODABLE = auto()
    REPO_NOT_ELIGIBLE = auto()
    EVALUATED = auto()
    NOTHING_TO_BUILD = auto()
    WORK_IN_PROGRESS = auto()
    NOT_A_PULL_REQUEST = auto()
    PR_CLOSED = auto()
    HEAD_MISSING = auto()
    BASE_MISSING = auto()
    MERGE_CONFLICT = auto()
    GIT_REFUSED = auto()
    EXPIRED_CREDS = auto()
    INTERNAL_ERROR = auto()
    RATE_LIMITED = auto()
    MISSING_SHA = auto()
    GITHUB_ERROR = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,  # never clone what `repos` does not list
    Case.EVALUATED: Verdict.PUBLISH_ACK,  # a BuildJob per system, one QueuedBuildJobs; status success
    Case.NOTHING_TO_BUILD: Verdict.ACK,  # no project touched; status success
    Case.WORK_IN_PROGRESS: Verdict.ACK,  # WIP title: labelled, no builds; status success
    Case.NOT_A_PULL_REQUEST: Verdict.ACK,  # the number is a plain issue's: nothing to fetch
    Case.PR_CLOSED: Verdict.ACK,
    Case.HEAD_MISSING: Verdict.ACK,  # the head sha is not in the PR's ref (force-pushed); status error
    Case.BASE_MISSING: Verdict.ACK,  # the PR's base branch is not on the remote; status failure
    Case.MERGE_CONFLICT: Verdict.ACK,  # status failure
    Case.GIT_REFUSED: Verdict.ACK,  # a branch or repository name git must not be given; status error
    Case.EXPIRED_CREDS: Verdict.NACK_REQUEUE,  # the client already retried once with a new token
    Case.INTERNAL_ERROR: Verdict.NACK_REQUEUE,  # GitHub 5xx or unreachable; git clone/fetch failure
    Case.RATE_LIMITED: Verdict.NACK_REQUEUE,  # not before the reset time
    Case.MISSING_SHA: Verdict.ACK,  # GitHub has no such commit (force-pushed away)
    Case.GITHUB_ERROR: Verdict.ACK,  # any other GitHub error: label `tickborg-internal-error`
}


GITHUB_FAILURES = GitHubCases(
    expired_creds=Case.EXPIRED_CREDS,
    internal_error=Case.INTERNAL_ERROR,
    rate_limited=Case.RATE_LIMITED,
    missing_sha=Case.MISSING_SHA,
    error=Case.GITHUB_ERROR,
)
