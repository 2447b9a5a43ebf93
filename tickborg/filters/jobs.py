"""The messages the filters publish, and where to (SPEC §2, §3)."""

from __future__ import annotations

from typing import Sequence

from tickborg.github.events import Repository
from tickborg.messages import BuildJob, EvaluationJob, QueuedBuildJobs, Repo
from tickborg.runtime.actions import Publish
from tickborg.topology import BUILD_RESULTS, EVALUATION_JOBS, build_queue

DEFAULT_EXCHANGE = ""


def wire_repo(repository: Repository) -> Repo:
    return Repo(
        owner=repository.owner,
        name=repository.name,
        full_name=repository.full_name,
        clone_url=repository.clone_url,
    )


def evaluate(job: EvaluationJob) -> Publish:
    return Publish(DEFAULT_EXCHANGE, EVALUATION_JOBS, job)


def schedule_build(job: BuildJob, systems: Sequence[str]) -> tuple[Publish, ...]:
    """The job to each system's builder queue, then one `QueuedBuildJobs` announcing
    them all, so the status reporter shows a queued check run per system."""
    return (
        *(Publish(DEFAULT_EXCHANGE, build_queue(system), job) for system in systems),
        Publish(BUILD_RESULTS, "", QueuedBuildJobs(job, tuple(systems))),
    )
