"""The status reporter's worker: each message's runs, read from GitHub, moved forward."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol

from tickborg.filters.policy import Decision, enact
from tickborg.github.bodies import CheckRunFields
from tickborg.github.errors import CommitStatusError
from tickborg.github.models import CheckRun
from tickborg.logsetup import get_logger
from tickborg.messages import BuildLogStart, CommitStatusWrite, LabelsWrite, QueuedBuildJobs
from tickborg.reporter.coalesce import RunWrites, StripedLocks
from tickborg.reporter.inputs import BuildProgress, GitHubWrite, Incoming, decode_incoming
from tickborg.reporter.policy import POLICY, Case, github_failure, triage
from tickborg.reporter.progress import Create, Leave, Report, Stage, plan
from tickborg.reporter.runs import LogLinks, RunRef
from tickborg.reporter.writes import GitHubWriter, StatusesAndLabels
from tickborg.runtime.actions import Action
from tickborg.runtime.worker import SimpleWorker

log = get_logger(__name__)


class ReporterCalls(StatusesAndLabels, Protocol):
    """The GitHub calls the reporter makes (`GitHubClient` provides them)."""

    def list_check_runs(
        self, repo: str, ref: str, check_name: str | None = None, app_id: int | None = None, every_run: bool = False
    ) -> list[CheckRun]: ...

    def create_check_run(self, repo: str, name: str, head_sha: str, fields: CheckRunFields) -> CheckRun: ...

    def update_check_run(self, repo: str, check_run_id: int, fields: CheckRunFields) -> CheckRun: ...


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class StatusReporter(SimpleWorker[Incoming]):
    """The fleet's one GitHub writer: check runs from builds' progress, and the
    statuses and labels the mass-rebuilder sends."""

    name = "github-comment-poster"
    # Each message costs GitHub calls that, with timeouts, pacing and a token
    # refresh, can outlast the heartbeat interval: run them off the connection's thread.
    long_running = True

    def __init__(
        self,
        github: ReporterCalls,
        links: LogLinks,
        app_id: int,
        now: Callable[[], datetime] = utc_now,
        start_delay: float = 0.0,
    ) -> None:
        self.github = github
        self.links = links
        self.app_id = app_id  # ours: a run of the same name by another App (say, Actions) is not ours to move
        self.now = now
        locks = StripedLocks()
        # A start's in_progress waits this long, and is dropped when the result comes meanwhile.
        self.writes = RunWrites(start_delay, locks)
        self.writer = GitHubWriter(github, locks)

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> Incoming:
        return decode_incoming(body)

    def handle(self, job: Incoming) -> list[Action]:
        return enact(POLICY, self.decide(job))

    def decide(self, job: Incoming) -> Decision[Case]:
        if isinstance(job, (CommitStatusWrite, LabelsWrite)):
            return self.write(job)
        return self.report(job)

    def write(self, job: GitHubWrite) -> Decision[Case]:
        try:
            if isinstance(job, CommitStatusWrite):
                return Decision(Case.STATUS_WRITE, reason=self.writer.status(job))
            return Decision(Case.LABELS_WRITE, reason=self.writer.labels(job))
        except CommitStatusError as exc:
            return github_failure(exc)

    def report(self, job: BuildProgress) -> Decision[Case]:
        case, reports = triage(job, self.links, self.now())
        for report in reports:
            if report.stage is Stage.COMPLETED:
                # Also under no request: a start from a builder that does not carry it.
                for request_id in {report.request_id, None}:
                    self.writes.result_came((_run_key(report.run), request_id))
        try:
            done = [self.post(report) for report in reports]
        except CommitStatusError as exc:
            return github_failure(exc)
        return Decision(case, reason="; ".join(done) or "no check run to write")

    def post(self, report: Report) -> str:
        """Bring the run of the report's request (of its name, on its commit) up to the report."""
        run = report.run
        if report.stage is Stage.IN_PROGRESS and self.writes.start_superseded((_run_key(run), report.request_id)):
            return f"{run.name}: in_progress not written, its result came"
        with self.writes.writing(_run_key(run)):
            return self._write(report)

    def _write(self, report: Report) -> str:
        run = report.run
        ours = self.github.list_check_runs(run.repo, run.head_sha, check_name=run.name, app_id=self.app_id, every_run=True)
        step = plan(report, ours)
        if isinstance(step, Leave):
            return f"{run.name}: left as it is, {step.reason}"
        if isinstance(step, Create):
            created = self.github.create_check_run(run.repo, run.name, run.head_sha, report.fields)
            return f"{run.name}: created run {created.id} {created.status}"
        updated = self.github.update_check_run(run.repo, step.run_id, step.fields)
        return f"{run.name}: run {updated.id} now {updated.status}"

    def log_context(self, job: Incoming) -> Mapping[str, Any]:
        if isinstance(job, CommitStatusWrite):
            return {"repo": job.repo, "sha": job.sha, "context": job.context}
        if isinstance(job, LabelsWrite):
            return {"repo": job.repo, "pr": job.number}
        if isinstance(job, BuildLogStart):
            context: dict[str, Any] = {"attempt_id": job.attempt_id, "system": job.system}
            if job.repo is not None and job.pr is not None:
                context.update(repo=job.repo.full_name, pr=job.pr.number)
            return context
        build = job.job if isinstance(job, QueuedBuildJobs) else job
        return {"repo": build.repo.full_name, "pr": build.pr.number, "request_id": build.request_id}


def _run_key(run: RunRef) -> tuple[str, str, str]:
    """One run, as every message about it names it: its name on its commit (a build,
    with the request); not `run` itself, whose log key a QueuedBuildJobs may set apart."""
    return (run.repo, run.head_sha, run.name)
