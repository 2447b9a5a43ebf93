"""github-comment-filter: `@tickbot` commands on pull requests → jobs, with the ACL (SPEC §5).

The webhook alone settles most comments. Only one asking for something (an
eval, or a build of a known project) from someone other than the bot costs a
GitHub call: the PR's head sha, base ref and state come from the API, since the
issue_comment payload does not carry them.

A comment publishes at most one BuildJob per system, for every known project
it names (`commands.request`), and at most one EvaluationJob: repeating a
command, or naming a project many times, asks for nothing more.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Any, Mapping, Protocol

from tickborg.commands import Request, parse, request
from tickborg.config import Config
from tickborg.filters.jobs import evaluate, schedule_build, wire_repo
from tickborg.filters.payload import decode_payload
from tickborg.filters.policy import Decision, Verdict, enact
from tickborg.github.errors import CommitStatusError, Error, ExpiredCreds, InternalError, RateLimited
from tickborg.github.events import IssueCommentEvent
from tickborg.github.models import PullRequest
from tickborg.logsetup import get_logger
from tickborg.messages import BuildJob, EvaluationJob, Pr
from tickborg.runtime.actions import Action
from tickborg.runtime.worker import SimpleWorker

log = get_logger(__name__)

BOT_SUFFIX = "[bot]"
# Unknown names logged per comment: enough to see a typo, not a whole comment's worth.
LOGGED_UNKNOWN = 10


class Case(Enum):
    UNDECODABLE = auto()
    NOT_CREATED = auto()
    REPO_NOT_ELIGIBLE = auto()
    NOT_A_PULL_REQUEST = auto()
    NO_COMMAND = auto()
    OWN_COMMENT = auto()
    LOOKUP_UNAVAILABLE = auto()
    PR_NOT_FOUND = auto()
    PR_CLOSED = auto()
    LOOKUP_REFUSED = auto()
    BUILD = auto()
    EVAL = auto()
    NO_KNOWN_PROJECTS = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.NOT_CREATED: Verdict.ACK,  # edited and deleted comments run nothing
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.NOT_A_PULL_REQUEST: Verdict.ACK,
    Case.NO_COMMAND: Verdict.ACK,
    Case.OWN_COMMENT: Verdict.ACK,
    Case.LOOKUP_UNAVAILABLE: Verdict.NACK_REQUEUE,  # ExpiredCreds, InternalError, RateLimited
    Case.PR_NOT_FOUND: Verdict.ACK,  # 404
    Case.PR_CLOSED: Verdict.ACK,
    # Any other GitHub error (403 forbidden, 422, a malformed response): a retry
    # would meet the same answer, so log it and let the commenter try again.
    Case.LOOKUP_REFUSED: Verdict.ACK,
    Case.BUILD: Verdict.PUBLISH_ACK,  # build/test: one job per allowed system, one QueuedBuildJobs
    Case.EVAL: Verdict.PUBLISH_ACK,
    Case.NO_KNOWN_PROJECTS: Verdict.ACK,  # every named project unknown: nothing to publish
}


class PullRequests(Protocol):
    """The one GitHub call this filter makes (`GitHubClient` provides it)."""

    def get_pull_request(self, repo: str, number: int) -> PullRequest: ...


def mention_for(bot_login: str) -> str:
    """The name people mention: a GitHub App's login is `name[bot]`, its mention `@name`."""
    return bot_login.removesuffix(BOT_SUFFIX)


def triage(event: IssueCommentEvent, config: Config) -> Decision[Case] | Request:
    """The cases the webhook settles on its own; else what the comment asks for."""
    if event.action != "created":
        return Decision(Case.NOT_CREATED, reason=f"action {event.action}")
    if not config.repo_is_eligible(event.repository.full_name):
        return Decision(Case.REPO_NOT_ELIGIBLE, reason=f"{event.repository.full_name} is not in repos")
    if not event.is_pull_request:
        return Decision(Case.NOT_A_PULL_REQUEST, reason=f"issue #{event.issue_number}")
    commands = parse(event.comment_body, mention_for(config.bot_login))
    if not commands:
        return Decision(Case.NO_COMMAND)
    if event.comment_user_login.casefold() == config.bot_login.casefold():
        return Decision(Case.OWN_COMMENT, reason=f"written by {event.comment_user_login}")
    limit = config.github_comment_filter.max_commands
    asked = request(commands, frozenset(p.name for p in config.projects), limit)
    if asked.ignored:
        log.warning("commands beyond the cap ignored", ignored=asked.ignored, max_commands=limit)
    if asked.unknown:
        shown = list(asked.unknown[:LOGGED_UNKNOWN])
        log.warning("unknown projects dropped", unknown_projects=shown, count=len(asked.unknown))
    if not (asked.projects or asked.evaluate):
        return Decision(Case.NO_KNOWN_PROJECTS, reason=f"{len(asked.unknown)} unknown projects")
    return asked


def look_up(github: PullRequests, event: IssueCommentEvent) -> Decision[Case] | PullRequest:
    """The open PR the comment is on, or the case a failed or pointless lookup falls in."""
    try:
        pr = github.get_pull_request(event.repository.full_name, event.issue_number)
    except RateLimited as exc:
        return Decision(Case.LOOKUP_UNAVAILABLE, reason=exc.message, not_before=exc.reset_at)
    except (ExpiredCreds, InternalError) as exc:
        return Decision(Case.LOOKUP_UNAVAILABLE, reason=exc.message)
    except CommitStatusError as exc:
        if isinstance(exc, Error) and exc.status == 404:
            return Decision(Case.PR_NOT_FOUND, reason=exc.message)
        log.error("pull request lookup refused; comment ignored", variant=type(exc).__name__, error=exc.message)
        return Decision(Case.LOOKUP_REFUSED, reason=exc.message)
    if pr.state != "open":
        return Decision(Case.PR_CLOSED, reason=f"state {pr.state}")
    return pr


def plan(asked: Request, event: IssueCommentEvent, pr: PullRequest, config: Config) -> tuple[Decision[Case], ...]:
    """What the comment publishes: one build of its known projects, then one evaluation, as asked."""
    repo = wire_repo(event.repository)
    target = Pr(target_branch=pr.base_ref, number=event.issue_number, head_sha=pr.head_sha)
    planned: list[Decision[Case]] = []
    if asked.projects:
        systems = config.systems_for(event.comment_user_login)
        job = BuildJob.for_pr(repo, target, asked.projects)
        reason = f"build {', '.join(asked.projects)} on {', '.join(systems)}"
        planned.append(Decision(Case.BUILD, schedule_build(job, systems), reason))
    if asked.evaluate:
        planned.append(Decision(Case.EVAL, (evaluate(EvaluationJob(repo, target)),), "eval"))
    return tuple(planned)


def decisions(event: IssueCommentEvent, config: Config, github: PullRequests) -> tuple[Decision[Case], ...]:
    """The table's rows in order: the webhook's cases, the lookup's, then what the comment publishes."""
    triaged = triage(event, config)
    if isinstance(triaged, Decision):
        return (triaged,)
    pr = look_up(github, event)
    if isinstance(pr, Decision):
        return (pr,)
    return plan(triaged, event, pr, config)


class CommentFilter(SimpleWorker[IssueCommentEvent]):
    name = "github-comment-filter"
    # The PR lookup is a network call that, with timeouts and a token refresh,
    # can outlast the heartbeat interval: run it off the connection's thread.
    long_running = True

    def __init__(self, config: Config, github: PullRequests) -> None:
        self.config = config
        self.github = github

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> IssueCommentEvent:
        return decode_payload(body, IssueCommentEvent.from_payload)

    def handle(self, job: IssueCommentEvent) -> list[Action]:
        return enact(POLICY, *decisions(job, self.config, self.github))

    def log_context(self, job: IssueCommentEvent) -> Mapping[str, Any]:
        return {"repo": job.repository.full_name, "pr": job.issue_number}
