"""One evaluation of a pull request, step by step, each step shown in the
`tickborg-eval` commit status on the PR's head (SPEC §5).

The evaluation reads GitHub but writes nothing to it: its statuses and labels
go to a `Writes` (in the fleet, messages to the status reporter, the one
GitHub writer of the App; docs/architecture.md, "GitHub writes")."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from typing import Protocol

import attrs

from tickborg.checkout import Checkouts
from tickborg.config import Config, GitHubAppConfig
from tickborg.evaluator.labels import Evaluation, evaluate_changes
from tickborg.evaluator.policy import GITHUB_FAILURES, Case
from tickborg.evaluator.progress import ProgressStatus
from tickborg.filters.jobs import schedule_build
from tickborg.filters.policy import Decision
from tickborg.git import GitError, MergeConflict, MissingBranch, MissingCommit
from tickborg.github.client import GitHubClient
from tickborg.github.errors import CommitStatusError
from tickborg.github.models import Issue
from tickborg.github.status import CommitStatus, StatusWriter
from tickborg.logsetup import get_logger
from tickborg.messages import BuildJob, CommitStatusWrite, EvaluationJob, Event, LabelsWrite
from tickborg.stats.emit import Emit, discard

log = get_logger(__name__)

INTERNAL_ERROR_LABEL = "tickborg-internal-error"
CONTEXT = "tickborg-eval"
# tickborg's compatibility: a commit that already carries ofborg's statuses keeps its prefix.
LEGACY_PREFIX = "grahamcofborg"
_WIP = re.compile(r"^WIP:|\[WIP\]")
# The namespace of evaluations' request ids (uuid5): any fixed UUID, never to change.
_EVALUATED_REQUESTS = uuid.UUID("6f1b2a8e-4d0c-5b7e-9a3f-2c1d0e9b8a70")


class Writes(StatusWriter, Protocol):
    """Where an evaluation's statuses and labels go."""

    def labels(self, write: LabelsWrite) -> object: ...


def is_work_in_progress(title: str) -> bool:
    return _WIP.search(title) is not None


def request_id(job: EvaluationJob, branch: str, projects: Sequence[str]) -> str:
    """The request an evaluation's builds show: the same for every delivery of one
    evaluation (its PR's head onto its branch), so a redelivered evaluation whose
    first run scheduled its builds shows their check runs again rather than making a
    second run of each name. `@tickbot build` asks for a new request of its own."""
    evaluated = [job.repo.full_name, job.pr.number, job.pr.head_sha, branch, list(projects)]
    return str(uuid.uuid5(_EVALUATED_REQUESTS, json.dumps(evaluated)))


def status_context(existing: list[str]) -> str:
    """`grahamcofborg-eval` when an earlier `grahamcofborg-…` context is on the commit."""
    if any(context.startswith(f"{LEGACY_PREFIX}-") for context in existing):
        return f"{LEGACY_PREFIX}-eval"
    return CONTEXT


class Evaluator:
    def __init__(
        self,
        config: Config,
        github: GitHubClient,
        checkouts: Checkouts,
        events: Emit = discard,
        progress_delay: float | None = None,
    ) -> None:
        self.config = config
        self.github = github
        self.checkouts = checkouts
        self.events = events
        if progress_delay is None:
            default = attrs.fields(GitHubAppConfig).progress_status_delay_seconds.default
            progress_delay = config.github_app.progress_status_delay_seconds if config.github_app else default
        self.progress_delay = progress_delay

    def decide(self, job: EvaluationJob, writes: Writes) -> Decision[Case]:
        repo = job.repo.full_name
        if not self.config.repo_is_eligible(repo):
            return Decision(Case.REPO_NOT_ELIGIBLE, reason=f"{repo} is not in repos")
        try:
            return self._evaluate(job, writes)
        except CommitStatusError as exc:
            decision = GITHUB_FAILURES.decide(exc)
            if decision.case is Case.GITHUB_ERROR:
                self._label_internal_error(job, exc, writes)
            return decision

    def _evaluate(self, job: EvaluationJob, writes: Writes) -> Decision[Case]:
        repo, number = job.repo.full_name, job.pr.number
        try:
            issue = self.github.get_issue(repo, number)
        except CommitStatusError:
            self.events(Event.of("issue-fetch-failed"))
            raise
        if not issue.is_pull_request:
            return Decision(Case.NOT_A_PULL_REQUEST, reason=f"#{number} is an issue")
        if issue.state != "open":
            self.events(Event.of("issue-already-closed"))
            return Decision(Case.PR_CLOSED, reason=f"state {issue.state}")
        contexts = [s.context for s in self.github.list_statuses(repo, job.pr.head_sha)]
        status = ProgressStatus(writes, CommitStatus(repo, job.pr.head_sha, status_context(contexts)), self.progress_delay)
        try:
            status.step("Starting")
            branch = job.pr.target_branch or self.github.get_pull_request(repo, number).base_ref
            started = time.monotonic()
            decision = self._merged(job, branch, issue, status, writes)
        finally:
            status.stop()
        # An evaluation that reached its verdict; one cut short by GitHub is retried, and counted then.
        # Whole seconds, as tickborg's `u64` field has it.
        self.events(Event.of("evaluation-duration", branch, round(time.monotonic() - started)))
        self.events(Event.of("evaluation-duration-count", branch))
        return decision

    def _merged(self, job: EvaluationJob, branch: str, issue: Issue, status: ProgressStatus, writes: Writes) -> Decision[Case]:
        """Merge, inspect and schedule: the evaluation proper, once the PR is known to be open."""
        repo, number = job.repo.full_name, job.pr.number
        try:
            evaluation = self._inspect(job, branch, issue, status)
        except MissingCommit as exc:
            status.finish("error", f"The PR's head {job.pr.head_sha} is gone (force-pushed?)")
            return Decision(Case.HEAD_MISSING, reason=str(exc))
        except MissingBranch as exc:
            status.finish("failure", str(exc))
            return Decision(Case.BASE_MISSING, reason=str(exc))
        except MergeConflict as exc:
            status.finish("failure", f"Failed to merge the PR into {branch}")
            return Decision(Case.MERGE_CONFLICT, reason=str(exc))
        except GitError as exc:
            if exc.retryable:
                return Decision(Case.INTERNAL_ERROR, reason=str(exc))
            status.finish("error", f"git refused: {exc}")
            return Decision(Case.GIT_REFUSED, reason=str(exc))
        # Only what changes: a label write is a budget item like any other.
        added = tuple(label for label in evaluation.labels if label not in issue.labels)
        removed = (INTERNAL_ERROR_LABEL,) if INTERNAL_ERROR_LABEL in issue.labels else ()
        if added or removed:
            writes.labels(LabelsWrite(repo, number, added, removed))
        return self._schedule(job, branch, issue, evaluation, status)

    def _inspect(self, job: EvaluationJob, branch: str, issue: Issue, status: ProgressStatus) -> Evaluation:
        """Merge the PR into its branch (in the clone cache, no worktree) and see what it changes."""
        status.step(f"Merging the PR into {branch}")
        merged = self.checkouts.merge_preview(job.repo, branch, job.pr.number, job.pr.head_sha)
        status.step("Evaluating")
        return evaluate_changes(merged.files, issue.title, merged.messages, self.config.projects)

    def _schedule(
        self, job: EvaluationJob, branch: str, issue: Issue, evaluation: Evaluation, status: ProgressStatus
    ) -> Decision[Case]:
        if is_work_in_progress(issue.title):
            status.finish("success", "Work in progress: no builds scheduled")
            return Decision(Case.WORK_IN_PROGRESS, reason=issue.title)
        if not evaluation.projects:
            status.finish("success", "No project changed: nothing to build")
            return Decision(Case.NOTHING_TO_BUILD, reason="no project touched")
        systems = self.config.systems_for(issue.user_login)
        build = BuildJob.for_pr(job.repo, job.pr, evaluation.projects, request_id(job, branch, evaluation.projects))
        scheduled = f"{', '.join(evaluation.projects)} on {', '.join(systems)}"
        status.finish("success", f"Scheduled builds of {scheduled}")
        return Decision(Case.EVALUATED, schedule_build(build, systems), scheduled)

    def give_up(self, job: EvaluationJob, reason: str) -> CommitStatusWrite:
        """Its retries are over: the status says so rather than staying pending for ever.
        When GitHub is why it gave up, its statuses may not be readable: `tickborg-eval`."""
        repo, sha = job.repo.full_name, job.pr.head_sha
        try:
            context = status_context([s.context for s in self.github.list_statuses(repo, sha)])
        except CommitStatusError as exc:
            log.warning("could not read the statuses of an evaluation given up", error=exc.message)
            context = CONTEXT
        return CommitStatus(repo, sha, context, f"Evaluation ended: {reason}").write("error", time.time())

    def _label_internal_error(self, job: EvaluationJob, exc: CommitStatusError, writes: Writes) -> None:
        """Mark the PR for a maintainer; the job is acked either way."""
        log.error("evaluation failed on a GitHub error", variant=type(exc).__name__, status=exc.status, error=exc.message, body=exc.body)
        writes.labels(LabelsWrite(job.repo.full_name, job.pr.number, (INTERNAL_ERROR_LABEL,), ()))
