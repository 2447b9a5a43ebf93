"""The mass-rebuilder worker: EvaluationJobs from `mass-rebuild-check-jobs`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.policy import POLICY
from tickborg.filters.policy import enact
from tickborg.messages import EvaluationJob, decode
from tickborg.runtime.actions import Action, Publish
from tickborg.runtime.worker import SimpleWorker


class MassRebuilder(SimpleWorker[EvaluationJob]):
    name = "mass-rebuilder"
    # Cloning, merging and a dozen GitHub calls outlast a heartbeat interval.
    long_running = True

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> EvaluationJob:
        return decode(EvaluationJob, body)

    def handle(self, job: EvaluationJob) -> list[Action]:
        return enact(POLICY, self.evaluator.decide(job))

    def on_dead_letter(self, job: EvaluationJob, reason: str) -> list[Publish]:
        self.evaluator.give_up(job, reason)
        return []

    def log_context(self, job: EvaluationJob) -> Mapping[str, Any]:
        return {"repo": job.repo.full_name, "pr": job.pr.number}
