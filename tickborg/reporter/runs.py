"""Which check run a message is about (SPEC §5, §7, §10).

A run is named `"{sorted projects joined by ', '} on {system}"`, plus
` (push to {branch})` for a push, on the commit `pr.head_sha`. A queued job
names its projects in `attrs`; a builder reports them split into attempted
and skipped, whose union is the job's `attrs`, so every message about one build
gives the same name.
"""

from __future__ import annotations

import json
from typing import Any, Iterable
from urllib.parse import quote

import attrs

from tickborg.config import Config, ListenAddress
from tickborg.messages import (
    BuildLogStart,
    BuildResult,
    Pr,
    PushTrigger,
    QueuedBuildJobs,
    Repo,
    pr_logs_routing_key,
    push_logs_routing_key,
)

NO_PROJECTS = "no projects"


@attrs.frozen
class RunRef:
    repo: str  # owner/name
    head_sha: str
    system: str
    projects: tuple[str, ...]  # sorted, each once
    push_branch: str | None
    log_key: str  # the routing key of the build's log (the log viewer's `key`)

    @classmethod
    def of(
        cls,
        repo: Repo,
        pr: Pr,
        system: str,
        projects: Iterable[str],
        push: PushTrigger | None,
        log_key: str | None = None,
    ) -> RunRef:
        if log_key is None:
            log_key = pr_logs_routing_key(repo, pr.number) if push is None else push_logs_routing_key(repo, push.branch)
        return cls(
            repo=repo.full_name,
            head_sha=pr.head_sha,
            system=system,
            projects=tuple(sorted(set(projects))),
            push_branch=None if push is None else push.branch,
            log_key=log_key,
        )

    @property
    def name(self) -> str:
        name = f"{', '.join(self.projects) or NO_PROJECTS} on {self.system}"
        return name if self.push_branch is None else f"{name} (push to {self.push_branch})"


def queued_runs(queued: QueuedBuildJobs) -> tuple[RunRef, ...]:
    """One run per architecture the job was sent to."""
    job = queued.job
    log_key = job.logs[1] if job.logs is not None else None
    return tuple(
        RunRef.of(job.repo, job.pr, system, job.attrs, job.push, log_key)
        for system in dict.fromkeys(queued.architectures)
    )


def result_run(result: BuildResult) -> RunRef:
    projects = (*(result.attempted_attrs or ()), *(result.skipped_attrs or ()))
    return RunRef.of(result.repo, result.pr, result.system, projects, result.push)


def started_run(start: BuildLogStart) -> RunRef | None:
    """The run a builder's announced start is about; None when it does not name its job
    (a start published only to the logs, or by a builder that predates `repo`/`pr`)."""
    if start.repo is None or start.pr is None:
        return None
    projects = (*(start.attempted_attrs or ()), *(start.skipped_attrs or ()))
    return RunRef.of(start.repo, start.pr, start.system, projects, start.push)


# --------------------------------------------------------------------------
# external_id: what a "Re-run" on GitHub needs to schedule the build again.


@attrs.frozen
class ExternalId:
    """`{"system", "projects", "request_id"?}` as compact JSON.

    `request_id` tells the request a run shows, so a late or redelivered
    QueuedBuildJobs is told from a new request for the same build; a run
    created by a builder's start has none yet.
    """

    system: str
    projects: tuple[str, ...]
    request_id: str | None = None

    @classmethod
    def for_run(cls, run: RunRef, request_id: str | None) -> ExternalId:
        return cls(run.system, run.projects, request_id)

    def encode(self) -> str:
        value: dict[str, Any] = {"system": self.system, "projects": list(self.projects)}
        if self.request_id is not None:
            value["request_id"] = self.request_id
        return json.dumps(value, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> ExternalId | None:
        """The id of a run tickborg wrote; None for anything else (another app, no id, garbage)."""
        try:
            value = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        system, projects, request_id = value.get("system"), value.get("projects"), value.get("request_id")
        if not isinstance(system, str) or not isinstance(projects, list):
            return None
        if not all(isinstance(p, str) for p in projects) or not isinstance(request_id, (str, type(None))):
            return None
        return cls(system, tuple(projects), request_id)


# --------------------------------------------------------------------------
# details_url: the log viewer (SPEC §10).


@attrs.frozen
class LogLinks:
    """`log_viewer_url` with `{key}`, defaulting to logapi's page; no links when neither is set."""

    template: str | None

    @classmethod
    def from_config(cls, config: Config) -> LogLinks:
        if config.log_viewer_url is not None:
            return cls(config.log_viewer_url)
        if config.logapi is not None:
            return cls(f"http://{_authority(config.logapi.listen)}/?key={{key}}")
        return cls(None)

    def url(self, log_key: str) -> str | None:
        if self.template is None:
            return None
        # Branch names may hold `#`, `&` or spaces; keep the owner/repo slash readable.
        return self.template.replace("{key}", quote(log_key, safe="/"))


def _authority(listen: ListenAddress) -> str:
    host = f"[{listen.host}]" if ":" in listen.host else listen.host
    return f"{host}:{listen.port}"
