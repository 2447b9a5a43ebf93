"""The stats worker: EventMessages from `stats-events` into the metrics."""

from __future__ import annotations

from tickborg.filters.policy import Decision, enact
from tickborg.messages import EventMessage, decode
from tickborg.runtime.actions import Action
from tickborg.runtime.worker import SimpleWorker
from tickborg.stats.metrics import Metrics, check_event
from tickborg.stats.policy import POLICY, Case


class StatsCollector(SimpleWorker[EventMessage]):
    name = "stats"

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> EventMessage:
        message = decode(EventMessage, body)
        for index, event in enumerate(message.events):
            check_event(event, f"events[{index}]")
        return message

    def handle(self, job: EventMessage) -> list[Action]:
        self.metrics.record(job)
        decision = Decision(Case.RECORDED, reason=f"{len(job.events)} events from {job.sender}")
        # Every process sends events all the time: a line each would drown the log.
        return enact(POLICY, decision, quiet=(Case.RECORDED,))
