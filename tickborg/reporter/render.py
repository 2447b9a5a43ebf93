"""What each message says about its check runs: status, conclusion, title and summary."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Iterable, Mapping

import attrs

from tickborg.github.bodies import CHECK_RUN_TEXT_LIMIT, CheckRunFields, CheckRunOutput, Conclusion
from tickborg.messages import AnyBuildStatus, BuildLogStart, BuildResult, BuildStatus, QueuedBuildJobs, UnexpectedError
from tickborg.reporter.progress import Report, Stage
from tickborg.reporter.runs import ExternalId, LogLinks, RunRef, queued_runs, result_run

CONCLUSIONS: Mapping[BuildStatus, Conclusion] = {
    BuildStatus.SUCCESS: "success",
    BuildStatus.FAILURE: "failure",
    BuildStatus.TIMED_OUT: "timed_out",
    BuildStatus.SKIPPED: "skipped",
    BuildStatus.HASH_MISMATCH: "failure",
}
TITLES: Mapping[BuildStatus, str] = {
    BuildStatus.SUCCESS: "Success",
    BuildStatus.FAILURE: "Failure",
    BuildStatus.TIMED_OUT: "Timed out",
    BuildStatus.SKIPPED: "Skipped",
    BuildStatus.HASH_MISMATCH: "Hash mismatch",
}
UNEXPECTED_ERROR_TITLE = "Unexpected error"
QUEUED_TITLE = "Queued"
STARTED_TITLE = "Building"
LOG_HEADING = "The end of the log:"
_BACKTICKS = re.compile(r"`+")


def conclusion(status: AnyBuildStatus) -> Conclusion:
    return "failure" if isinstance(status, UnexpectedError) else CONCLUSIONS[status]


def title(status: AnyBuildStatus) -> str:
    return UNEXPECTED_ERROR_TITLE if isinstance(status, UnexpectedError) else TITLES[status]


def project_list(projects: Iterable[str] | None) -> str:
    return ", ".join(f"`{p}`" for p in projects or ()) or "none"


def projects_summary(attempted: Iterable[str] | None, skipped: Iterable[str] | None) -> str:
    return f"**Attempted:** {project_list(attempted)}\n**Skipped:** {project_list(skipped)}"


def log_block(lines: Iterable[str], budget: int) -> str:
    """The lines as a fenced block of at most `budget` characters, keeping the end
    (where a build says what went wrong). A fence longer than any run of backticks
    in the log keeps the log from closing it."""
    text = "\n".join(lines)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    room = max(budget - 2 * len(fence) - 2, 0)
    if len(text) > room:
        text = "…" + text[len(text) - room + 1 :] if room else ""
    return f"{fence}\n{text}\n{fence}"


def finished_summary(result: BuildResult) -> str:
    """Attempted and skipped projects, the error of an UnexpectedError, the log's last lines."""
    parts = [projects_summary(result.attempted_attrs, result.skipped_attrs)]
    if isinstance(result.status, UnexpectedError):
        parts.append(f"**Error:** {result.status.err}")
    if not result.output:
        return "\n\n".join(parts)
    head = "\n\n".join([*parts, LOG_HEADING])
    return f"{head}\n\n{log_block(result.output, CHECK_RUN_TEXT_LIMIT - len(head) - 2)}"


def _report(run: RunRef, stage: Stage, fields: CheckRunFields, links: LogLinks, request_id: str | None) -> Report:
    """The report with what every write carries: the log link and the re-run's external_id."""
    external_id = ExternalId.for_run(run, request_id).encode()
    return Report(run, stage, attrs.evolve(fields, details_url=links.url(run.log_key), external_id=external_id), request_id)


def queued_reports(queued: QueuedBuildJobs, links: LogLinks) -> tuple[Report, ...]:
    def fields(run: RunRef) -> CheckRunFields:
        summary = f"Waiting for a `{run.system}` builder.\n\n**Projects:** {project_list(run.projects)}"
        return CheckRunFields(status="queued", output=CheckRunOutput(QUEUED_TITLE, summary))

    request_id = queued.job.request_id
    return tuple(_report(run, Stage.QUEUED, fields(run), links, request_id) for run in queued_runs(queued))


def started_report(start: BuildLogStart, run: RunRef, links: LogLinks, now: datetime) -> Report:
    summary = f"Building on `{start.identity}`.\n\n{projects_summary(start.attempted_attrs, start.skipped_attrs)}"
    fields = CheckRunFields(status="in_progress", started_at=now, output=CheckRunOutput(STARTED_TITLE, summary))
    return _report(run, Stage.IN_PROGRESS, fields, links, start.request_id)


def finished_report(result: BuildResult, links: LogLinks, now: datetime) -> Report:
    fields = CheckRunFields(
        status="completed",
        conclusion=conclusion(result.status),
        completed_at=now,
        output=CheckRunOutput(title(result.status), finished_summary(result)),
    )
    return _report(result_run(result), Stage.COMPLETED, fields, links, result.request_id)
