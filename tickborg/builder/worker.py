"""The builder worker: check out, build, stream the log, report (SPEC §5, §9).

PR jobs: check out the target branch, fetch `refs/pull/{n}/head`, make sure the
head commit is still there, merge it. Push jobs: check out the branch, then the
pushed commit. The build gets a fresh copy of that tree without `.git`. Then
each project the job names runs its phases (configure, build, test) in the
sandbox, in its own directory of the copy, under its timeout; every output line goes to the job's `logs` destination as it comes,
and the result, once every line is confirmed, to `statusreport` and `logs`.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from tickborg.builder import process
from tickborg.builder.confine import Confinement, confinement
from tickborg.builder.logstream import LogRefused, LogStream, Submitting
from tickborg.builder.phases import phases
from tickborg.builder.policy import POLICY, Case
from tickborg.builder.sandbox import ENVIRONMENT, Sandbox
from tickborg.checkout import Checkouts, Workdir
from tickborg.config import BuilderConfig, Config, Project
from tickborg.errors import DecodeError
from tickborg.filters.policy import Decision, enact
from tickborg.git import GitError, MergeConflict, MissingCommit
from tickborg.logsetup import get_logger
from tickborg.messages import (
    BUILD_RESULTS_EXCHANGE,
    LOGS_EXCHANGE,
    AnyBuildStatus,
    BuildJob,
    BuildLogStart,
    BuildResult,
    BuildStatus,
    Event,
    ExchangeQueue,
    UnexpectedError,
    decode,
    pr_logs_routing_key,
    push_logs_routing_key,
)
from tickborg.runtime.actions import Publish
from tickborg.runtime.worker import Notify, NotifyWorker
from tickborg.stats.emit import Emit, discard

# Log messages published but not yet confirmed; more wait in the job's log stream (the build does
# not). Single lines, or chunks: 32 of them hold up to 2 MiB.
LOG_WINDOW = {"lines": 1000, "chunks": 32}
# How long the broker may go without confirming anything before the job is retried.
CONFIRM_TIMEOUT_SECONDS = 60.0
QUEUE_PREFIX = "build-inputs-"
MERGE_FAILED = "Merge failed"

log = get_logger(__name__)


@attrs.frozen
class Assignment:
    """A BuildJob as one builder queue delivered it: for `system`."""

    job: BuildJob
    system: str


@attrs.frozen
class _Attempt:
    """One try at an assignment: what every message about it shares."""

    job: BuildJob
    system: str
    attempt_id: str
    attempted: tuple[str, ...]
    skipped: tuple[str, ...]
    started: float  # time.monotonic()

    @property
    def logs(self) -> tuple[str, str]:
        job = self.job
        if job.push is not None:
            default = push_logs_routing_key(job.repo, job.push.branch)
        else:
            default = pr_logs_routing_key(job.repo, job.pr.number)
        return _destination(job.logs, (LOGS_EXCHANGE, default))

    @property
    def statusreport(self) -> tuple[str, str]:
        return _destination(self.job.statusreport, (BUILD_RESULTS_EXCHANGE, ""))


def _destination(given: ExchangeQueue | None, default: tuple[str, str]) -> tuple[str, str]:
    if given is None:
        return default
    exchange, routing_key = given
    return exchange or "", routing_key or ""


class Builder(NotifyWorker[Assignment]):
    name = "builder"

    def __init__(
        self,
        config: Config,
        publisher: Submitting,
        checkouts: Checkouts,
        jobs: int | None = None,
        events: Emit = discard,
        confined: Confinement | None = None,
    ) -> None:
        self.config = config
        self.settings: BuilderConfig = config.require("builder")
        self.publisher = publisher
        self.checkouts = checkouts
        self.sandbox = Sandbox(self.settings.sandbox, self.settings.limits.tmp_bytes)
        # How phases are limited: chosen once, at start (`tickborg builder` logs which).
        self.confinement = confined or confinement(self.settings.limits)
        self.jobs = jobs or os.cpu_count() or 1
        self.events = events

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> Assignment:
        return Assignment(decode(BuildJob, body), self.system_of(routing_key))

    def system_of(self, routing_key: str) -> str:
        """The system a job is for: jobs are published to `build-inputs-{system}` by name."""
        systems = self.settings.systems
        if routing_key.startswith(QUEUE_PREFIX) and routing_key[len(QUEUE_PREFIX) :] in systems:
            return routing_key[len(QUEUE_PREFIX) :]
        if len(systems) == 1:  # e.g. through the build-jobs fanout, whose routing key says nothing
            return systems[0]
        raise DecodeError(f"routing key {routing_key!r} names none of this builder's systems {list(systems)}")

    def log_context(self, job: Assignment) -> Mapping[str, Any]:
        return {"repo": job.job.repo.full_name, "pr": job.job.pr.number, "request_id": job.job.request_id, "system": job.system}

    def handle(self, job: Assignment, notify: Notify) -> None:
        decision = self.decide(job, notify.cancelled)
        if decision is None:
            log.info("build cancelled; the runtime handed the job back")
            return
        for action in enact(POLICY, decision):
            notify(action)

    def decide(self, assignment: Assignment, cancelled: threading.Event) -> Decision[Case] | None:
        """The decision for one attempt at `assignment`; None when it was cancelled."""
        job = assignment.job
        attempt = self._attempt_at(assignment)
        if not attempt.attempted:
            return self._no_projects(attempt)
        try:
            with self.checkouts.workdir(job.repo) as workdir:
                _prepare(workdir, job)
                # The build writes only to its copy: never to the checkout host git works in.
                with workdir.tree_copy() as tree:
                    return self._build(attempt, tree, workdir.object_stores, cancelled)
        except MergeConflict as exc:
            return Decision(Case.MERGE_CONFLICT, self._results(attempt, BuildStatus.FAILURE, (MERGE_FAILED,)), str(exc))
        except MissingCommit as exc:
            line = f"Skipped: commit {job.pr.head_sha} no longer exists (force-pushed away?)"
            return Decision(Case.HEAD_MISSING, self._results(attempt, BuildStatus.SKIPPED, (line,)), str(exc))
        except GitError as exc:
            if exc.retryable:
                return Decision(Case.CHECKOUT_FAILED, reason=str(exc))
            return self._internal_error(attempt, exc)
        except LogRefused as exc:
            return None if cancelled.is_set() else Decision(Case.LOG_REFUSED, reason=f"log not delivered: {exc}")
        except Exception as exc:
            log.exception("build failed unexpectedly")
            return self._internal_error(attempt, exc)

    def on_dead_letter(self, job: Assignment, reason: str) -> list[Publish]:
        """Its retries are over (the branch is gone, the log could not be delivered...):
        the result ends its check run, failed with the reason, instead of leaving it open."""
        attempt = self._attempt_at(job)
        # To the status reporter only: the log collector never saw this attempt start.
        return [Publish(*attempt.statusreport, self._result(attempt, UnexpectedError(f"the build ended: {reason}"), ()))]

    def _attempt_at(self, assignment: Assignment) -> _Attempt:
        """A new attempt: the job's projects this builder knows, and those it does not, skipped."""
        job = assignment.job
        known = tuple(name for name in job.attrs if self.config.project(name) is not None)
        unknown = tuple(name for name in job.attrs if name not in known)
        return _Attempt(job, assignment.system, str(uuid.uuid4()), known, unknown, time.monotonic())

    def _build(
        self, attempt: _Attempt, checkout: Path, readable: tuple[Path, ...], cancelled: threading.Event
    ) -> Decision[Case] | None:
        projects = [p for p in map(self.config.project, attempt.attempted) if p is not None]
        buildable = tuple(p.name for p in projects if (checkout / p.path).is_dir())
        # A project whose directory this revision does not have cannot be built: skipped.
        attempt = attrs.evolve(
            attempt, attempted=buildable, skipped=attempt.skipped + tuple(n for n in attempt.attempted if n not in buildable)
        )
        if not buildable:
            return self._no_projects(attempt)
        stream = LogStream(
            self.publisher, attempt.logs, attempt.system, self.config.identity, attempt.attempt_id,
            self.settings.log_tail_lines, LOG_WINDOW[self.settings.log_messages], CONFIRM_TIMEOUT_SECONDS,
            chunked=self.settings.log_messages == "chunks",
        )
        self.events(Event.of("build-started", attempt.system))
        with stream:
            start = BuildLogStart(attempt.system, self.config.identity, attempt.attempt_id, attempt.attempted, attempt.skipped)
            stream.publish(attempt.logs, start)
            if self.settings.announce_start:
                job = attempt.job
                named = attrs.evolve(start, repo=job.repo, pr=job.pr, push=job.push, request_id=job.request_id)
                stream.publish(attempt.statusreport, named)
            stop = lambda: cancelled.is_set() or stream.failed
            status: AnyBuildStatus = BuildStatus.SUCCESS
            ran: list[str] = []
            for project in projects:
                if project.name in buildable and status is BuildStatus.SUCCESS:
                    ran.append(project.name)
                    status = self._build_project(project, checkout, readable, stream, stop, attempt.started)
            if cancelled.is_set():
                return None
            stream.finish()
            # Those after a failure never ran: skipped, not attempted (the run's name, their union, stays).
            never_ran = tuple(name for name in buildable if name not in ran)
            attempt = attrs.evolve(attempt, attempted=tuple(ran), skipped=attempt.skipped + never_ran)
            return Decision(Case.BUILD_RAN, self._results(attempt, status, stream.tail), str(status.to_json()))

    def _build_project(
        self,
        project: Project,
        checkout: Path,
        readable: tuple[Path, ...],
        stream: LogStream,
        stop: Callable[[], bool],
        job_started: float,
    ) -> AnyBuildStatus:
        """Run the project's phases until one fails; its status."""
        timeout = self.settings.timeout_of(project)
        # A job of several projects must still end before the broker's consumer timeout.
        job_deadline = job_started + self.settings.broker_consumer_timeout_seconds - self.settings.kill_grace_seconds
        deadline = min(time.monotonic() + timeout, job_deadline)
        directory = checkout / project.path
        limits = self.settings.limits
        budget = process.LogBudget(limits.log_lines, limits.log_bytes)
        for phase in phases(project, directory, self.jobs):
            stream.line(f"=== {project.name}: {phase.name}: {shlex.join(phase.argv)}")
            outcome = process.run(
                self.sandbox.command(checkout, directory, phase.argv, readable), directory, ENVIRONMENT,
                stream.lines, deadline, stop, self.settings.kill_grace_seconds, self.confinement, budget,
            )
            if outcome.ending is process.Ending.LOG_LIMIT:
                stream.line(f"=== {project.name}: {phase.name} stopped: {outcome.reached[0]} reached")
                return BuildStatus.FAILURE
            if outcome.ending is process.Ending.TIMED_OUT:
                why = f"after {timeout} s" if deadline < job_deadline else "at the job's limit (builder.broker_consumer_timeout_seconds)"
                stream.line(f"=== {project.name}: {phase.name} timed out {why}")
                return BuildStatus.TIMED_OUT
            if not outcome.succeeded:
                stream.line(f"=== {project.name}: {phase.name} failed ({_describe(outcome)})")
                return BuildStatus.FAILURE
        return BuildStatus.SUCCESS

    def _no_projects(self, attempt: _Attempt) -> Decision[Case]:
        return Decision(
            Case.NO_PROJECTS,
            self._results(attrs.evolve(attempt, attempted=()), BuildStatus.SKIPPED, ()),
            f"nothing to build here of {list(attempt.job.attrs)}",
        )

    def _internal_error(self, attempt: _Attempt, exc: Exception) -> Decision[Case]:
        error = UnexpectedError(f"{type(exc).__name__}: {exc}")
        return Decision(Case.INTERNAL_ERROR, self._results(attempt, error, ()), str(exc))

    def _results(self, attempt: _Attempt, status: AnyBuildStatus, output: tuple[str, ...]) -> tuple[Publish, ...]:
        """The result, to `statusreport` and (for the log collector, beside the log) to `logs`."""
        result = self._result(attempt, status, output)
        return tuple(Publish(*destination, result) for destination in (attempt.statusreport, attempt.logs))

    def _result(self, attempt: _Attempt, status: AnyBuildStatus, output: tuple[str, ...]) -> BuildResult:
        job = attempt.job
        kind = "UnexpectedError" if isinstance(status, UnexpectedError) else status.to_json()
        self.events(Event.of("build-finished", attempt.system, kind))
        return BuildResult(
            repo=job.repo, pr=job.pr, system=attempt.system, output=output, attempt_id=attempt.attempt_id,
            request_id=job.request_id, status=status, skipped_attrs=attempt.skipped,
            attempted_attrs=attempt.attempted, push=job.push,
        )


def _prepare(workdir: Workdir, job: BuildJob) -> None:
    """The checkout the job builds: a PR merged into its target, or a pushed commit."""
    if job.push is not None:
        workdir.checkout_branch(job.push.branch)
        workdir.checkout_commit(job.push.head_sha)
        return
    if job.pr.target_branch is None:
        raise GitError("the job names no target branch", retryable=False)
    workdir.checkout_branch(job.pr.target_branch)
    workdir.fetch_pr(job.pr.number)
    if not workdir.has_commit(job.pr.head_sha):
        raise MissingCommit(f"commit {job.pr.head_sha} is not in refs/pull/{job.pr.number}/head")
    workdir.merge(job.pr.head_sha)


def _describe(outcome: process.Outcome) -> str:
    if outcome.returncode is None:
        return "could not start"
    how = f"killed by signal {-outcome.returncode}" if outcome.returncode < 0 else f"exit status {outcome.returncode}"
    return "; ".join([how, *(f"{limit} reached" for limit in outcome.reached)])
