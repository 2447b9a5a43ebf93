"""The fleet's events as Prometheus metrics, labelled by sender (SPEC §11).

One table says how each event tickborg knows is recorded. Every event, known
or not (a newer worker may send more), also counts in `tickborg_events_total`.

Each label value makes a series of its own that lives as long as the process,
so a value that comes from outside the code (an event's name, a webhook's
`X-GitHub-Event`) is kept only when the code knows it; any other counts as
`other`, and the number of series stays bounded however many names arrive.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from tickborg.errors import DecodeError
from tickborg.messages import Event, EventMessage
from tickborg.topology import EVENT_QUEUES

DURATION = "evaluation-duration"
# Evaluations take from seconds (nothing to build) to many minutes (a big clone).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
# The label value of anything the code does not know.
OTHER = "other"
# The GitHub events the fleet consumes, and `ping`, which GitHub sends when a hook is set up.
WEBHOOK_EVENTS = frozenset({event for event, _ in EVENT_QUEUES} | {"ping"})


@attrs.frozen
class Tally:
    """An event counted in `metric`, labelled by sender, the event's fields (named) and `fixed`."""

    metric: str
    fields: tuple[str, ...] = ()
    fixed: tuple[tuple[str, str], ...] = ()
    # For fields whose values come from outside the fleet: the values kept as
    # they are; any other is labelled OTHER.
    known: frozenset[str] | None = None

    def labels(self, sender: str, fields: tuple[object, ...]) -> tuple[str, ...]:
        values = (str(f) if self.known is None else label(str(f), self.known) for f in fields)
        return (sender, *values, *(value for _, value in self.fixed))


TALLIES: Mapping[str, Tally] = {
    "job-received": Tally("tickborg_jobs_received"),
    "job-decode-success": Tally("tickborg_jobs_decoded", fixed=(("result", "success"),)),
    "job-decode-failure": Tally("tickborg_jobs_decoded", fixed=(("result", "failure"),)),
    "dead-lettered": Tally("tickborg_dead_lettered", ("queue",)),
    "issue-already-closed": Tally("tickborg_issues_already_closed"),
    "issue-fetch-failed": Tally("tickborg_issue_fetches_failed"),
    "evaluation-duration-count": Tally("tickborg_evaluations", ("branch",)),
    "build-started": Tally("tickborg_builds_started", ("system",)),
    "build-finished": Tally("tickborg_builds_finished", ("system", "status")),
    "github-api-error": Tally("tickborg_github_api_errors", ("variant",)),
    "webhook-received": Tally("tickborg_webhooks_received", ("event",), known=WEBHOOK_EVENTS),
}
KNOWN_EVENTS = frozenset({*TALLIES, DURATION})

HELP: Mapping[str, str] = {
    "tickborg_jobs_received": "Deliveries a worker took from its queues",
    "tickborg_jobs_decoded": "Deliveries a worker decoded (result=success) or could not (result=failure)",
    "tickborg_dead_lettered": "Messages a worker dead-lettered, by the queue they came from",
    "tickborg_issues_already_closed": "Evaluations skipped because the pull request was closed",
    "tickborg_issue_fetches_failed": "Evaluations whose pull request could not be fetched from GitHub",
    "tickborg_evaluations": "Pull request evaluations, by target branch",
    "tickborg_builds_started": "Builds started, by system",
    "tickborg_builds_finished": "Build results reported, by system and status",
    "tickborg_github_api_errors": "Failed GitHub API calls, by error variant",
    "tickborg_webhooks_received": "Verified GitHub webhook deliveries, by event",
}


def check_event(event: Event, path: str) -> None:
    """A known event must carry the fields its metric is labelled with (DecodeError otherwise)."""
    fields = event.fields
    if event.name == DURATION:
        if len(fields) != 2 or not isinstance(fields[0], str) or not _seconds(fields[1]):
            raise DecodeError(f"{path}: {DURATION} takes a branch and a number of seconds, got {list(fields)}")
        return
    tally = TALLIES.get(event.name)
    if tally is None:
        return
    if len(fields) != len(tally.fields) or not all(isinstance(f, str) for f in fields):
        wanted = ", ".join(tally.fields) or "no fields"
        raise DecodeError(f"{path}: {event.name} takes {wanted} (strings), got {list(fields)}")


def label(value: str, known: Collection[str]) -> str:
    """`value` if the code knows it, else OTHER."""
    return value if value in known else OTHER


def _seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


class Metrics:
    """A registry of its own: the fleet's counters and this process's own metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.events = Counter(
            "tickborg_events", "Every event received, by name (other: a name this version does not know)",
            ("sender", "event"), registry=self.registry,
        )
        self.durations = Histogram(
            "tickborg_evaluation_duration_seconds", "How long pull request evaluations took, by target branch",
            ("sender", "branch"), buckets=DURATION_BUCKETS, registry=self.registry,
        )
        self._counters: dict[str, Counter] = {}
        for tally in TALLIES.values():
            if tally.metric not in self._counters:
                labels = ("sender", *tally.fields, *(name for name, _ in tally.fixed))
                self._counters[tally.metric] = Counter(tally.metric, HELP[tally.metric], labels, registry=self.registry)

    def record(self, message: EventMessage) -> None:
        """Count a checked message's events (see `check_event`)."""
        for event in message.events:
            self.events.labels(message.sender, label(event.name, KNOWN_EVENTS)).inc()
            if event.name == DURATION:
                branch, seconds = event.fields
                self.durations.labels(message.sender, branch).observe(float(seconds))
                continue
            tally = TALLIES.get(event.name)
            if tally is not None:
                self._counters[tally.metric].labels(*tally.labels(message.sender, event.fields)).inc()
