"""The mass-rebuilder worker: EvaluationJobs from `mass-rebuild-check-jobs`.

A notify worker: an evaluation's progress statuses are published while it
runs, to the status reporter that writes them (`tickborg.reporter.writes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.policy import POLICY
from tickborg.filters.policy import enact
from tickborg.messages import BUILD_RESULTS_EXCHANGE, CommitStatusWrite, EvaluationJob, LabelsWrite, decode
from tickborg.runtime.actions import Publish
from tickborg.runtime.worker import Notify, NotifyWorker


def to_reporter(write: CommitStatusWrite | LabelsWrite) -> Publish:
    return Publish(BUILD_RESULTS_EXCHANGE, "", write)


@attrs.frozen
class PublishedWrites:
    """An evaluation's writes, sent to the status reporter as the job's publishes
    (confirmed by the broker before the job is acked)."""

    notify: Notify

    def status(self, write: CommitStatusWrite) -> None:
        self.notify(to_reporter(write))

    def labels(self, write: LabelsWrite) -> None:
        self.notify(to_reporter(write))


class MassRebuilder(NotifyWorker[EvaluationJob]):
    name = "mass-rebuilder"
    # An evaluation a shutdown interrupts is finished within the grace, not redone.
    finish_on_shutdown = True

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> EvaluationJob:
        return decode(EvaluationJob, body)

    def handle(self, job: EvaluationJob, notify: Notify) -> None:
        for action in enact(POLICY, self.evaluator.decide(job, PublishedWrites(notify))):
            notify(action)

    def on_dead_letter(self, job: EvaluationJob, reason: str) -> list[Publish]:
        return [to_reporter(self.evaluator.give_up(job, reason))]

    def log_context(self, job: EvaluationJob) -> Mapping[str, Any]:
        return {"repo": job.repo.full_name, "pr": job.pr.number}
