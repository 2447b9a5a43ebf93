"""evaluation-filter: which pull_request events deserve an evaluation (SPEC §5)."""

from __future__ import annotations

from enum import Enum, auto
from typing import Any, Mapping

from tickborg.config import Config
from tickborg.filters.jobs import evaluate, wire_repo
from tickborg.filters.payload import decode_payload
from tickborg.filters.policy import Decision, Verdict, enact
from tickborg.github.events import PullRequestEvent
from tickborg.messages import EvaluationJob, Pr
from tickborg.runtime.actions import Action
from tickborg.runtime.worker import SimpleWorker

# Actions that bring new code to evaluate.
EVALUATE_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})


class Case(Enum):
    UNDECODABLE = auto()
    NOT_A_PR_NUMBER = auto()
    REPO_NOT_ELIGIBLE = auto()
    PR_NOT_OPEN = auto()
    CODE_CHANGED = auto()
    BASE_CHANGED = auto()
    OTHER_ACTION = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    # GitHub numbers PRs from 1 (0 marks a push on the wire): a forged or broken event,
    # kept for a look rather than sent one hop on to fail in the mass-rebuilder.
    Case.NOT_A_PR_NUMBER: Verdict.NACK_DUMP,
    Case.REPO_NOT_ELIGIBLE: Verdict.ACK,
    Case.PR_NOT_OPEN: Verdict.ACK,
    Case.CODE_CHANGED: Verdict.PUBLISH_ACK,  # opened, synchronize, reopened, ready_for_review
    Case.BASE_CHANGED: Verdict.PUBLISH_ACK,  # edited with `changes.base`
    Case.OTHER_ACTION: Verdict.ACK,  # labeled, assigned, title edits, closed, ...
}


def classify(event: PullRequestEvent, config: Config) -> Decision[Case]:
    if event.number <= 0:
        return Decision(Case.NOT_A_PR_NUMBER, reason=f"pull request number {event.number}: GitHub's start at 1")
    if not config.repo_is_eligible(event.repository.full_name):
        return Decision(Case.REPO_NOT_ELIGIBLE, reason=f"{event.repository.full_name} is not in repos")
    if event.state != "open":
        return Decision(Case.PR_NOT_OPEN, reason=f"state {event.state}")
    if event.action in EVALUATE_ACTIONS:
        return Decision(Case.CODE_CHANGED, (evaluate(evaluation_job(event)),), f"action {event.action}")
    if event.action == "edited" and event.base_changed:
        return Decision(Case.BASE_CHANGED, (evaluate(evaluation_job(event)),), f"base branch now {event.base_ref}")
    return Decision(Case.OTHER_ACTION, reason=f"action {event.action}")


def evaluation_job(event: PullRequestEvent) -> EvaluationJob:
    pr = Pr(target_branch=event.base_ref, number=event.number, head_sha=event.head_sha)
    return EvaluationJob(wire_repo(event.repository), pr)


class EvaluationFilter(SimpleWorker[PullRequestEvent]):
    name = "evaluation-filter"

    def __init__(self, config: Config) -> None:
        self.config = config

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> PullRequestEvent:
        return decode_payload(body, PullRequestEvent.from_payload)

    def handle(self, job: PullRequestEvent) -> list[Action]:
        return enact(POLICY, classify(job, self.config))

    def log_context(self, job: PullRequestEvent) -> Mapping[str, Any]:
        return {"repo": job.repository.full_name, "pr": job.number}
