"""The two kinds of worker, and the pure steps that turn a delivery into actions.

A worker never touches pika. It has

- `decode(routing_key, content_type, body) -> job`, raising `DecodeError`;
- for a *simple* worker, `handle(job) -> list[Action]`;
- for a *notify* worker (long jobs that stream output, like the builder),
  `handle(job, notify)`: it calls `notify(Publish(...))` as often as it likes
  and ends by calling `notify` with exactly one verdict (Ack, NackRequeue or
  NackDump). `notify.cancelled` tells it when to give up early.

Each worker module states its ack policy as one table (a `Case` enum mapped to
a verdict) so the policy can be read in one place and tested row by row.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, Mapping, TypeVar

import attrs

from tickborg.errors import DecodeError
from tickborg.logsetup import get_logger
from tickborg.runtime.abandon import Abandoned
from tickborg.runtime.actions import Ack, Action, NackDump, NackRequeue, Publish
from tickborg.runtime.retry import MAX_ATTEMPTS, gave_up

J = TypeVar("J")
Send = Callable[[Action], None]


@attrs.frozen
class Notify:
    """What a notify worker's `handle` gets: call it with each action.

    `cancelled` is set once the runtime takes no more of this job's actions:
    its delivery was settled early (a streamed publish failed), or handed back
    (a lost connection, a shutdown). Later actions are dropped; a job should
    check it and stop (the builder kills its process group).
    """

    send: Send
    cancelled: threading.Event = attrs.field(factory=threading.Event)

    def __call__(self, action: Action) -> None:
        self.send(action)


@attrs.frozen
class Delivery:
    """One message as the runtime received it."""

    queue: str
    routing_key: str
    content_type: str | None
    body: bytes
    attempt: int = 1


class SimpleWorker(Generic[J]):
    name: str = "worker"
    # Jobs that can outlast the heartbeat interval run in a thread so the
    # connection keeps serving heartbeats; quick ones run inline, which is faster.
    long_running: bool = False
    # On SIGTERM: finish the current job within the grace period (True), or
    # hand it straight back to the broker for another instance (False).
    finish_on_shutdown: bool = True

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> J:
        raise NotImplementedError

    def handle(self, job: J) -> list[Action]:
        raise NotImplementedError

    def log_context(self, job: J) -> Mapping[str, Any]:
        """repo / pr / request_id of a job, bound to every log line while it runs."""
        return {}

    def before_ack(self) -> None:
        """Called on the connection's thread before acks of handled deliveries go out:
        a worker that stores what it handles makes that durable here. Raising leaves
        those deliveries to the broker, which hands them out again."""

    def on_dead_letter(self, job: J, reason: str) -> list[Publish]:
        """The job's verdict sends its delivery to the dead-letter queue (its retries are
        over, or it is rejected for good): what ends what the job began, such as its
        check run or commit status, published before. Runs where `handle` ran, or, for a
        dead letter the runtime decides without running the job (a redelivery past its
        attempts), on the connection's thread: keep it short."""
        return []


class NotifyWorker(Generic[J]):
    name: str = "worker"
    long_running: bool = True
    finish_on_shutdown: bool = False

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> J:
        raise NotImplementedError

    def handle(self, job: J, notify: Notify) -> None:
        raise NotImplementedError

    def log_context(self, job: J) -> Mapping[str, Any]:
        return {}

    def before_ack(self) -> None:
        """As SimpleWorker.before_ack."""

    def on_dead_letter(self, job: J, reason: str) -> list[Publish]:
        """As SimpleWorker.on_dead_letter."""
        return []


AnyWorker = SimpleWorker[Any] | NotifyWorker[Any]


def is_verdict(action: Action) -> bool:
    return isinstance(action, (Ack, NackRequeue, NackDump))


def decode_or_dump(worker: AnyWorker, delivery: Delivery) -> tuple[Any, list[Action]]:
    """(job, []) or (None, [NackDump]) when the body cannot be decoded."""
    try:
        return worker.decode(delivery.routing_key, delivery.content_type, delivery.body), []
    except DecodeError as exc:
        return None, [NackDump(f"decode failure: {exc}")]


def _crashed(exc: Exception) -> NackRequeue:
    get_logger(__name__).error("handler raised; the message will be retried", exc_info=exc)
    return NackRequeue(f"{type(exc).__name__}: {exc}")


def _stopped(exc: Abandoned) -> NackRequeue:
    get_logger(__name__).info("job given up by the runtime; stopped before writing", write=str(exc))
    return NackRequeue(f"abandoned before {exc}")


def ensure_verdict(actions: list[Action]) -> list[Action]:
    """Exactly one verdict, last: anything else is a worker bug, retried."""
    verdicts = [a for a in actions if is_verdict(a)]
    if len(verdicts) != 1 or actions[-1] is not verdicts[0]:
        return [NackRequeue(f"worker bug: expected one final verdict, got {actions!r}")]
    return actions


@attrs.frozen
class Attempt:
    """Which try at its message a delivery is, of how many the runtime allows."""

    number: int = 1
    allowed: int = MAX_ATTEMPTS

    def dead_reason(self, verdict: Action) -> str | None:
        """Why `verdict` sends the delivery to its dead-letter queue; None when it does not."""
        if isinstance(verdict, NackDump):
            return verdict.reason
        if isinstance(verdict, NackRequeue) and self.number >= self.allowed:
            return gave_up(self.number, verdict.reason)
        return None


def dead_end(worker: AnyWorker, job: Any, verdict: Action, attempt: Attempt) -> list[Action]:
    """What the worker publishes before `verdict` when the verdict dead-letters the job."""
    reason = attempt.dead_reason(verdict)
    if reason is None:
        return []
    try:
        return list(worker.on_dead_letter(job, reason))
    except Exception:  # noqa: BLE001 - the dead letter itself must still happen
        get_logger(__name__).exception("could not end what a dead-lettered job began", reason=reason)
        return []


def run_simple(worker: SimpleWorker[Any], job: Any, attempt: Attempt = Attempt()) -> list[Action]:
    """handle(job), with an escaping exception turned into NackRequeue, and what ends a dead-lettered job."""
    try:
        actions = list(worker.handle(job))
    except Abandoned as exc:
        # Nothing more to end: the runtime takes no verdict of an abandoned job.
        return [_stopped(exc)]
    except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the process
        actions = [_crashed(exc)]
    actions = ensure_verdict(actions)
    return [*actions[:-1], *dead_end(worker, job, actions[-1], attempt), actions[-1]]


def run_notify(
    worker: NotifyWorker[Any], job: Any, send: Send, cancelled: threading.Event | None = None, attempt: Attempt = Attempt()
) -> None:
    """handle(job, notify), guaranteeing `send` sees exactly one verdict, last."""
    verdicts: list[Action] = []

    def guarded(action: Action) -> None:
        if verdicts:
            get_logger(__name__).error("worker bug: action after the verdict ignored", action=repr(action))
            return
        if is_verdict(action):
            verdicts.append(action)
            for ending in dead_end(worker, job, action, attempt):
                send(ending)
        send(action)

    notify = Notify(guarded, cancelled or threading.Event())
    try:
        worker.handle(job, notify)
    except Abandoned as exc:
        _stopped(exc)
    except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the process
        if not verdicts:
            guarded(_crashed(exc))
    # A cancelled job may stop without a verdict: the runtime takes none from it.
    if not verdicts and not notify.cancelled.is_set():
        guarded(NackRequeue("worker bug: handle ended without a verdict"))


def decide(worker: SimpleWorker[Any], delivery: Delivery, allowed: int = MAX_ATTEMPTS) -> list[Action]:
    """The whole pure pipeline of a simple worker for one delivery."""
    job, dumped = decode_or_dump(worker, delivery)
    return dumped or run_simple(worker, job, Attempt(delivery.attempt, allowed))
