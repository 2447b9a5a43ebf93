"""The AMQP topology of SPEC §2 as plain data; `tickborg.broker.declare` declares it.

Names are the Rust tickborg's, so mixed fleets share queues. Two additions of
ours carry the bounded, delayed retries of SPEC §4:

- `tickborg-retry.{N}s` delay queues (N = 1, 2, 3, 4, 6, 8 … 4096): a retried
  message waits there for the queue's TTL of N s, then is dead-lettered to
- `tickborg-retry`, a headers exchange that routes it back to its work queue
  by the `tickborg-retry-queue` header. (Headers, not a routing key: queue
  names may contain dots, and a header match needs no escaping.)
"""

from __future__ import annotations

from typing import Any, Iterable

import attrs

from tickborg.config import Config

GITHUB_EVENTS = "github-events"
BUILD_JOBS = "build-jobs"
BUILD_RESULTS = "build-results"
LOGS = "logs"
STATS = "stats"
DEAD_LETTER = "tickborg-dead-letter"
RETRY = "tickborg-retry"
RETRY_HEADER = "tickborg-retry-queue"

EVALUATION_INPUTS = "mass-rebuild-check-inputs"
COMMENT_INPUTS = "build-inputs"
PUSH_INPUTS = "push-build-inputs"
RERUN_INPUTS = "check-run-inputs"
UNKNOWN_EVENTS = "github-events-unknown"
EVALUATION_JOBS = "mass-rebuild-check-jobs"
BUILD_RESULTS_QUEUE = "build-results"
BUILD_LOGS = "build-logs"
STATS_EVENTS = "stats-events"

# Each delay queue holds one delay (its queue TTL; no per-message TTL, which
# expires only at a queue's head), so messages leave a level in the order they
# entered it. Steps of 1.5× keep the jitter of the backoff: 1, 2, 3, 4, 6, 8, 12
# … 3072, 4096 s (the last covers a rate-limit reset).
RETRY_DELAYS = tuple(sorted({2**n for n in range(13)} | {3 * 2**n for n in range(11)}))
UNKNOWN_MAX_LENGTH = 10_000
PEEKS_WITHOUT_LIMIT = 2**31 - 1  # the largest delivery limit RabbitMQ 3.10 and 4 both take
UNKNOWN_TTL_MS = 7 * 24 * 3600 * 1000
BUILD_LOGS_MAX_LENGTH = 5_000_000
# A flood of dead letters (a build's log past build-logs' length) must not fill
# the broker's disk: a disk alarm blocks every publisher. Past either bound the
# oldest letters go.
DEAD_MAX_LENGTH = 100_000
DEAD_MAX_BYTES = 256 * 1024 * 1024
# The GitHub events the fleet consumes, and the queue each goes to (bound
# `{event}.#` on github-events); any other event matches no binding.
EVENT_QUEUES: tuple[tuple[str, str], ...] = (
    ("pull_request", EVALUATION_INPUTS),
    ("issue_comment", COMMENT_INPUTS),
    ("push", PUSH_INPUTS),
    # "Re-run" pressed on one of our check runs, or "Re-run all checks" on the suite.
    ("check_run", RERUN_INPUTS),
    ("check_suite", RERUN_INPUTS),
    ("unknown", UNKNOWN_EVENTS),  # no X-GitHub-Event header
)


def build_queue(system: str) -> str:
    return f"build-inputs-{system}"


def dead_queue(queue: str) -> str:
    return f"{queue}.dead"


def retry_queue(delay_seconds: int) -> str:
    return f"{RETRY}.{delay_seconds}s"


@attrs.frozen
class Exchange:
    name: str
    type: str


@attrs.frozen
class Queue:
    name: str
    arguments: dict[str, Any] = attrs.field(factory=dict, hash=False)
    # work queues get a dead-letter queue and a way back from the retry exchange
    is_work_queue: bool = True


@attrs.frozen
class Binding:
    exchange: str
    queue: str
    routing_key: str = ""
    arguments: dict[str, Any] | None = attrs.field(default=None, hash=False)


@attrs.frozen
class Topology:
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def select(self, queues: Iterable[str]) -> Topology:
        """The part a process needs: these queues with their bindings, dead-letter
        queues and retry paths, and every exchange (exchanges are cheap, and a
        process may publish to any of them)."""
        wanted = set(queues)
        for name in list(wanted):
            if self.queue(name).is_work_queue:
                wanted.add(dead_queue(name))
                wanted.update(retry_queue(d) for d in RETRY_DELAYS)
        return Topology(
            self.exchanges,
            tuple(q for q in self.queues if q.name in wanted),
            tuple(b for b in self.bindings if b.queue in wanted),
        )


def work_queue(name: str, legacy: bool, delivery_limit: int, **extra: Any) -> Queue:
    """A durable work queue: quorum with a delivery limit and its own dead-letter
    queue by default; classic without arguments (as the Rust tickborg) in legacy mode."""
    if legacy:
        return Queue(name)
    return Queue(
        name,
        {
            "x-queue-type": "quorum",
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER,
            "x-dead-letter-routing-key": name,
            **extra,
        },
    )


def side_queue(name: str, legacy: bool, **arguments: Any) -> Queue:
    """A queue nobody works from (dead letters, delays, unknown events): quorum,
    so a cluster keeps it on the surviving nodes (SPEC §13), unless legacy mode
    keeps every queue classic."""
    replicated = {} if legacy else {"x-queue-type": "quorum"}
    return Queue(name, {**replicated, **arguments}, is_work_queue=False)


def failure_paths(work_queues: Iterable[Queue], legacy: bool = False) -> Topology:
    """The dead-letter queues, delay queues and bindings behind some work queues."""
    names = [q.name for q in work_queues]
    # Listing dead letters peeks at them, which counts as a delivery: RabbitMQ 4
    # would drop a dead letter after its default limit of 20.
    unlimited = {} if legacy else {"x-delivery-limit": PEEKS_WITHOUT_LIMIT}
    bounded = {"x-max-length": DEAD_MAX_LENGTH, "x-max-length-bytes": DEAD_MAX_BYTES}
    dead = [side_queue(dead_queue(name), legacy, **unlimited, **bounded) for name in names]
    # A quorum delay queue dead-letters at least once (it keeps each message
    # until the work queue confirms it), which needs reject-publish overflow.
    safely = {} if legacy else {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    delays = [
        side_queue(retry_queue(d), legacy, **{"x-message-ttl": d * 1000, "x-dead-letter-exchange": RETRY, **safely})
        for d in RETRY_DELAYS
    ]
    bindings = [
        *(Binding(DEAD_LETTER, dead_queue(name), name) for name in names),
        *(Binding(RETRY, name, "", {"x-match": "all", RETRY_HEADER: name}) for name in names),
    ]
    exchanges = (Exchange(DEAD_LETTER, "topic"), Exchange(RETRY, "headers"))
    return Topology(exchanges, tuple(dead + delays), tuple(bindings))


def build_topology(config: Config) -> Topology:
    legacy = config.rabbitmq.legacy_queues
    limit = config.rabbitmq.delivery_limit
    systems = tuple(
        dict.fromkeys(config.systems.all + (config.builder.systems if config.builder else ()))
    )
    work_queues = [
        work_queue(name, legacy, limit)
        for name in (
            EVALUATION_INPUTS, COMMENT_INPUTS, PUSH_INPUTS, RERUN_INPUTS, EVALUATION_JOBS, *map(build_queue, systems)
        )
    ] + [
        # One active consumer: the status reporter is the App's one GitHub writer, and
        # its standbys take over when it goes (docs/architecture.md, "GitHub writes").
        work_queue(BUILD_RESULTS_QUEUE, legacy, limit, **{"x-single-active-consumer": True}),
        work_queue(BUILD_LOGS, legacy, limit, **{"x-max-length": BUILD_LOGS_MAX_LENGTH}),
        work_queue(STATS_EVENTS, legacy, limit),
    ]
    # Nobody consumes unknown events: bounded in length and age, never dead-lettered.
    unknown = side_queue(
        UNKNOWN_EVENTS, legacy, **{"x-max-length": UNKNOWN_MAX_LENGTH, "x-message-ttl": UNKNOWN_TTL_MS}
    )
    failures = failure_paths(work_queues, legacy)
    bindings = (
        *(Binding(GITHUB_EVENTS, queue, f"{event}.#") for event, queue in EVENT_QUEUES),
        *(Binding(BUILD_JOBS, build_queue(s)) for s in systems),
        Binding(BUILD_RESULTS, BUILD_RESULTS_QUEUE),
        Binding(LOGS, BUILD_LOGS, "#"),
        Binding(STATS, STATS_EVENTS),
    )
    exchanges = (
        Exchange(GITHUB_EVENTS, "topic"),
        Exchange(BUILD_JOBS, "fanout"),
        Exchange(BUILD_RESULTS, "fanout"),
        Exchange(LOGS, "topic"),
        Exchange(STATS, "fanout"),
    )
    return Topology(
        exchanges + failures.exchanges,
        (*work_queues, unknown, *failures.queues),
        bindings + failures.bindings,
    )


def describe(topology: Topology) -> list[str]:
    """Human-readable lines for `tickborg topology --print`."""
    lines = [f"exchange {e.name} ({e.type})" for e in topology.exchanges]
    lines += [f"queue {q.name} {q.arguments}" if q.arguments else f"queue {q.name}" for q in topology.queues]
    for b in topology.bindings:
        key = repr(b.routing_key) if not b.arguments else str(b.arguments)
        lines.append(f"binding {b.exchange} -> {b.queue} {key}")
    return lines
