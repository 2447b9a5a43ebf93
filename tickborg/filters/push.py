"""push-filter: build the projects a push to a tracked branch touches (SPEC §5)."""

from __future__ import annotations

from enum import Enum, auto
from typing import Any, Mapping

from tickborg.config import Config
from tickborg.filters.jobs import schedule_build, wire_repo
from tickborg.filters.payload import decode_payload
from tickborg.filters.policy import Decision, Verdict, enact
from tickborg.github.events import PushEvent
from tickborg.messages import BuildJob, PushTrigger
from tickborg.projects import touched_projects
from tickborg.runtime.actions import Action, Publish
from tickborg.runtime.worker import SimpleWorker


class Case(Enum):
    UNDECODABLE = auto()
    REPO_NOT_ELIGIBLE = auto()
    TAG_PUSH = auto()
    BRANCH_DELETED = auto()
    BRANCH_NOT_TRACKED = auto()
    PROJECTS_CHANGED = auto()
    DEFAULT_PROJECTS = auto()
    NOTHING_TO_BUILD = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.TAG_PUSH: Verdict.ACK,
    Case.BRANCH_DELETED: Verdict.ACK,
    Case.BRANCH_NOT_TRACKED: Verdict.ACK,
    Case.PROJECTS_CHANGED: Verdict.PUBLISH_ACK,
    Case.DEFAULT_PROJECTS: Verdict.PUBLISH_ACK,  # no project matched: `default_push_projects`
    Case.NOTHING_TO_BUILD: Verdict.ACK,  # no project matched and no defaults
}


def classify(event: PushEvent, config: Config) -> Decision[Case]:
    if not config.repo_is_eligible(event.repository.full_name):
        return Decision(Case.REPO_NOT_ELIGIBLE, reason=f"{event.repository.full_name} is not in repos")
    if event.is_tag():
        return Decision(Case.TAG_PUSH, reason=event.ref)
    if event.is_delete():
        return Decision(Case.BRANCH_DELETED, reason=event.ref)
    branch = event.branch()
    if branch is None or branch not in config.push_branches:
        return Decision(Case.BRANCH_NOT_TRACKED, reason=event.ref)
    changed = touched_projects(event.changed_files(), config.projects)
    if changed:
        return Decision(Case.PROJECTS_CHANGED, schedule(event, branch, changed, config), f"projects {', '.join(changed)}")
    defaults = config.default_push_projects
    if defaults:
        return Decision(Case.DEFAULT_PROJECTS, schedule(event, branch, defaults, config), f"projects {', '.join(defaults)}")
    return Decision(Case.NOTHING_TO_BUILD, reason="no changed file is in a project and default_push_projects is empty")


def schedule(event: PushEvent, branch: str, projects: tuple[str, ...], config: Config) -> tuple[Publish, ...]:
    # Every push to a tracked branch builds, so only on the primary systems (SPEC §5).
    push = PushTrigger(head_sha=event.after, branch=branch, before_sha=event.before)
    job = BuildJob.for_push(wire_repo(event.repository), push, projects)
    return schedule_build(job, config.systems.primary)


class PushFilter(SimpleWorker[PushEvent]):
    name = "push-filter"

    def __init__(self, config: Config) -> None:
        self.config = config

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> PushEvent:
        return decode_payload(body, PushEvent.from_payload)

    def handle(self, job: PushEvent) -> list[Action]:
        return enact(POLICY, classify(job, self.config))

    def log_context(self, job: PushEvent) -> Mapping[str, Any]:
        return {"repo": job.repository.full_name, "ref": job.ref}
