"""github-rerun-filter: "Re-run" pressed on GitHub → the same builds again (SPEC §7).

A `check_run` `rerequested` event asks for one of our runs again; a
`check_suite` `rerequested` event ("Re-run all checks") for every run of ours
on the suite's head commit. The run's `external_id`, written by the status
reporter, names its system and projects; the event names the PR, whose state
and base come from the API. The ACL is the one of comments, applied to the
user who pressed the button (`sender`).
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Any, Mapping, Protocol, Union

from tickborg.commands import split_known
from tickborg.config import Config
from tickborg.errors import DecodeError
from tickborg.filters.jobs import schedule_build, wire_repo
from tickborg.filters.payload import decode_payload
from tickborg.filters.policy import Decision, GitHubCases, Verdict, enact
from tickborg.github.errors import CommitStatusError
from tickborg.github.events import CheckRunEvent, CheckSuiteEvent
from tickborg.github.fields import top_object
from tickborg.github.models import CheckRun, PullRequest
from tickborg.logsetup import get_logger
from tickborg.messages import BuildJob, Pr
from tickborg.reporter.runs import ExternalId
from tickborg.runtime.actions import Action
from tickborg.runtime.worker import SimpleWorker

log = get_logger(__name__)

RERUN_ACTION = "rerequested"

RerunEvent = Union[CheckRunEvent, CheckSuiteEvent]


class Case(Enum):
    UNDECODABLE = auto()
    NOT_RERUN = auto()
    REPO_NOT_ELIGIBLE = auto()
    NOT_OURS = auto()
    NO_PULL_REQUEST = auto()
    LOOKUP_UNAVAILABLE = auto()
    LOOKUP_REFUSED = auto()
    PR_CLOSED = auto()
    NO_RUNS = auto()
    SYSTEM_NOT_ALLOWED = auto()
    NO_KNOWN_PROJECTS = auto()
    RERUN = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.NOT_RERUN: Verdict.ACK,  # created, completed, requested_action, ...
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.NOT_OURS: Verdict.ACK,  # another App's run or suite, or an external_id we did not write
    # GitHub lists no PR for a push's commit or a PR from a fork: nothing names the PR.
    Case.NO_PULL_REQUEST: Verdict.ACK,
    Case.LOOKUP_UNAVAILABLE: Verdict.NACK_REQUEUE,  # ExpiredCreds, InternalError, RateLimited
    # 404, 403, 422: a retry would meet the same answer; the user may press Re-run again.
    Case.LOOKUP_REFUSED: Verdict.ACK,
    Case.PR_CLOSED: Verdict.ACK,
    Case.NO_RUNS: Verdict.ACK,  # a suite re-run finding none of our runs on the commit
    Case.SYSTEM_NOT_ALLOWED: Verdict.ACK,  # the sender may not build on the run's system
    Case.NO_KNOWN_PROJECTS: Verdict.ACK,  # the run's projects are no longer configured
    Case.RERUN: Verdict.PUBLISH_ACK,  # a BuildJob to the system's queue, one QueuedBuildJobs
}

LOOKUP_FAILURES = GitHubCases(
    expired_creds=Case.LOOKUP_UNAVAILABLE,
    internal_error=Case.LOOKUP_UNAVAILABLE,
    rate_limited=Case.LOOKUP_UNAVAILABLE,
    missing_sha=Case.LOOKUP_REFUSED,
    error=Case.LOOKUP_REFUSED,
)


class RerunGitHub(Protocol):
    """The GitHub calls this filter makes (`GitHubClient` provides them)."""

    def get_pull_request(self, repo: str, number: int) -> PullRequest: ...

    def list_check_runs(
        self, repo: str, ref: str, check_name: str | None = None, app_id: int | None = None
    ) -> list[CheckRun]: ...


def decode_rerun(body: bytes) -> RerunEvent:
    """The event a body holds, told by its payload (a replayed message's routing key is its queue's name)."""

    def model(payload: Any) -> RerunEvent:
        top = top_object(payload)
        if "check_run" in top:
            return CheckRunEvent.from_payload(top)
        if "check_suite" in top:
            return CheckSuiteEvent.from_payload(top)
        raise DecodeError("check_run or check_suite: missing")

    return decode_payload(body, model)


def triage(event: RerunEvent, config: Config, app_id: int) -> Decision[Case] | ExternalId | None:
    """The cases the webhook settles on its own; else the run a check_run names, or
    None for a suite (whose runs the API lists)."""
    if event.action != RERUN_ACTION:
        return Decision(Case.NOT_RERUN, reason=f"action {event.action}")
    if not config.repo_is_eligible(event.repository.full_name):
        return Decision(Case.REPO_NOT_ELIGIBLE, reason=f"{event.repository.full_name} is not in repos")
    if event.app_id != app_id:
        return Decision(Case.NOT_OURS, reason=f"app {event.app_id}")
    run = ExternalId.decode(event.external_id) if isinstance(event, CheckRunEvent) else None
    if isinstance(event, CheckRunEvent) and run is None:
        return Decision(Case.NOT_OURS, reason=f"external_id {event.external_id!r}")
    if not event.pull_requests:
        return Decision(Case.NO_PULL_REQUEST, reason=f"no pull request for {event.head_sha}")
    return run


def open_pull_request(github: RerunGitHub, event: RerunEvent) -> Decision[Case] | PullRequest:
    """The first open PR the event lists (a commit may head several), or why there is none."""
    state = ""
    for number in event.pull_requests:
        try:
            pr = github.get_pull_request(event.repository.full_name, number)
        except CommitStatusError as exc:
            return LOOKUP_FAILURES.decide(exc)
        if pr.state == "open":
            return pr
        state = pr.state
    return Decision(Case.PR_CLOSED, reason=f"#{', #'.join(map(str, event.pull_requests))} {state}")


def our_runs(github: RerunGitHub, event: RerunEvent, app_id: int) -> Decision[Case] | list[ExternalId]:
    """What each of our runs on the suite's commit built, or the case a failed or empty listing falls in."""
    try:
        runs = github.list_check_runs(event.repository.full_name, event.head_sha, app_id=app_id)
    except CommitStatusError as exc:
        return LOOKUP_FAILURES.decide(exc)
    ids = [ExternalId.decode(run.external_id) for run in runs]
    ours = [i for i in ids if i is not None]
    if not ours:
        return Decision(Case.NO_RUNS, reason=f"none of our runs on {event.head_sha}")
    return ours


def plan(run: ExternalId, event: RerunEvent, pr: PullRequest, config: Config) -> Decision[Case]:
    """The build one run showed, scheduled again on the run's commit, if the sender may."""
    if run.system not in config.systems_for(event.sender_login):
        return Decision(Case.SYSTEM_NOT_ALLOWED, reason=f"{event.sender_login} may not build on {run.system}")
    known, unknown = split_known(run.projects, [p.name for p in config.projects])
    if unknown:
        log.warning("unknown projects dropped", unknown_projects=list(unknown), count=len(unknown))
    if not known:
        return Decision(Case.NO_KNOWN_PROJECTS, reason=f"unknown projects {', '.join(unknown)}")
    target = Pr(target_branch=pr.base_ref, number=pr.number, head_sha=event.head_sha)
    job = BuildJob.for_pr(wire_repo(event.repository), target, known)
    return Decision(Case.RERUN, schedule_build(job, (run.system,)), f"{', '.join(known)} on {run.system}")


def decisions(event: RerunEvent, config: Config, github: RerunGitHub, app_id: int) -> tuple[Decision[Case], ...]:
    """The table's rows in order: the webhook's cases, the lookups', then one decision per run."""
    triaged = triage(event, config, app_id)
    if isinstance(triaged, Decision):
        return (triaged,)
    pr = open_pull_request(github, event)
    if isinstance(pr, Decision):
        return (pr,)
    runs = [triaged] if triaged is not None else our_runs(github, event, app_id)
    if isinstance(runs, Decision):
        return (runs,)
    return tuple(plan(run, event, pr, config) for run in runs)


class RerunFilter(SimpleWorker[RerunEvent]):
    name = "github-rerun-filter"
    # The lookups are network calls that can outlast the heartbeat interval.
    long_running = True

    def __init__(self, config: Config, github: RerunGitHub, app_id: int) -> None:
        self.config = config
        self.github = github
        self.app_id = app_id

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> RerunEvent:
        return decode_rerun(body)

    def handle(self, job: RerunEvent) -> list[Action]:
        return enact(POLICY, *decisions(job, self.config, self.github, self.app_id))

    def log_context(self, job: RerunEvent) -> Mapping[str, Any]:
        return {"repo": job.repository.full_name, "head_sha": job.head_sha, "sender": job.sender_login}
