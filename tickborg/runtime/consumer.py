"""The imperative shell: a pika consumer loop that drives one worker (SPEC §4).

The thread that owns the `BlockingConnection` only ever processes broker
events and applies actions. Long-running jobs run in worker threads and hand
their actions back with `add_callback_threadsafe`, so heartbeats keep flowing
while a build runs for hours. Every action carries the connection generation
it was taken under: after a reconnect, a late ack for a delivery tag of the old
channel is dropped (the broker redelivers that message anyway).

A delivery is settled (acked, or rejected back to the broker) exactly once.
Once it is, or once it is abandoned (a lost connection, a shutdown hand-back),
its job's later actions are dropped and its `cancelled` event tells the job
to stop.

A worker that handles its deliveries in order on the connection's thread with
a prefetch above 1 (the log collector, stats) acks them in batches: one
`multiple` ack for every delivery of a channel settled since the last, sent
once the deliveries at hand are handled, every half prefetch, and before any
publish (which could cost the channel, and the acks with it). An ack per
delivery cost such a worker a third of its time.

Before any ack of handled deliveries is sent, the worker's `before_ack` runs
(the log collector syncs the lines they wrote to disk): once per batch, not per
delivery. If it fails, the deliveries go back to the broker unacked.
"""

from __future__ import annotations

import datetime
import random
import signal
import threading
import time
from typing import Any, Callable, Sequence

import attrs
import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel

from tickborg.backoff import backoff_seconds
from tickborg.broker import CONNECTION_ERRORS, TopologyMismatch, connect, copy_properties, declare, properties
from tickborg.config import RabbitMQConfig
from tickborg.logsetup import get_logger
from tickborg.messages import Event
from tickborg.runtime.abandon import working_for
from tickborg.runtime.actions import Ack, Action, NackDump, NackRequeue, Publish
from tickborg.runtime.retry import (
    DELIVERY_COUNT_HEADER,
    Republish,
    RetryPolicy,
    attempt_of,
    broker_redeliveries,
    gave_up,
    original_routing_key,
    plan_dump,
    plan_retry,
)
from tickborg.runtime.unsettled import Unsettled, fingerprint
from tickborg.runtime.worker import (
    AnyWorker,
    Attempt,
    Delivery,
    NotifyWorker,
    dead_end,
    decode_or_dump,
    run_notify,
    run_simple,
)
from tickborg.stats.emit import Emit, discard
from tickborg.topology import Topology

# How many streamed publishes a notify worker may have outstanding before
# `notify` blocks: the build waits for the broker rather than buffering forever.
NOTIFY_BACKLOG = 2000
POLL_SECONDS = 0.2
# Sent for every delivery: made once, not per message.
JOB_RECEIVED = Event.of("job-received")
DECODE_SUCCESS = Event.of("job-decode-success")
DECODE_FAILURE = Event.of("job-decode-failure")
RECONNECT_CAP_SECONDS = 30.0
UNSETTLED_REDELIVERY = "redelivered unsettled: its consumer stopped or lost its connection while handling it"


@attrs.define(eq=False)  # identity: two deliveries are never "equal"
class _Received:
    """One delivery, with what the connection thread needs to settle it later."""

    channel: BlockingChannel
    tag: int
    props: pika.BasicProperties
    delivery: Delivery
    generation: int
    # Bound to every log line about it: worker, identity, queue, delivery tag,
    # and the job's repo / pr / request_id once decoded.
    context: dict[str, Any]
    # How often the broker handed this message out before: counted as attempts.
    redeliveries: int = 0
    # Streamed publishes not yet applied; bounds how far a build runs ahead of the broker.
    backlog: threading.BoundedSemaphore = attrs.field(factory=lambda: threading.BoundedSemaphore(NOTIFY_BACKLOG))
    # Set once the runtime takes no more of this job's actions; the job sees it as `notify.cancelled`.
    cancelled: threading.Event = attrs.field(factory=threading.Event)
    # Acked or rejected already (touched on the connection's thread only).
    settled: bool = False

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.delivery.queue, self.delivery.body, self.props.headers)


class _ConsumerLost(Exception):
    """A lost consuming channel's queue cannot be consumed again on this connection."""


# Failures that a new connection fixes.
RECONNECTABLE = (*CONNECTION_ERRORS, _ConsumerLost, pika.exceptions.ChannelClosedByBroker)
# A publish the broker did not take: the delivery's verdict becomes a retry.
REFUSED = (pika.exceptions.UnroutableError, pika.exceptions.NackError)


class Runner:
    """Consume `queues` with `worker` until asked to stop; reconnect when the broker goes."""

    def __init__(
        self,
        worker: AnyWorker,
        queues: Sequence[str],
        rabbitmq: RabbitMQConfig,
        topology: Topology,
        identity: str,
        prefetch: int = 1,
        rng: random.Random | None = None,
        events: Emit = discard,
    ) -> None:
        self.worker = worker
        self.queues = tuple(queues)
        self.rabbitmq = rabbitmq
        self.topology = topology
        self.identity = identity
        self.prefetch = prefetch
        self.rng = rng or random.Random()
        # Metrics (SPEC §11): what arrived, what decoded, what was dead-lettered.
        self.events = events
        self.policy = RetryPolicy(rabbitmq.delivery_limit, rabbitmq.retry_base_seconds, rabbitmq.retry_cap_seconds)
        self.log = get_logger("tickborg.runtime", worker=worker.name, identity=identity)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._consumed = False  # whether the current connection got as far as consuming
        self.reconnects = 0
        self.lost_channels = 0  # consuming channels lost and opened again on the same connection
        self._generation = 0
        self._connection: pika.BlockingConnection | None = None
        # Deliveries handled in job threads; touched only on the connection's thread.
        self._inflight: list[_Received] = []
        self._unsettled = Unsettled()
        # Batched acks: the highest tag settled per channel, and how many acks they stand for.
        self._batch_acks = not worker.long_running and prefetch > 1
        self._ack_batch = max(1, prefetch // 2)
        self._acks_due: dict[BlockingChannel, int] = {}
        self._acks_count = 0

    # -- control ---------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        """Safe from a signal handler or another thread: only sets a flag."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    @property
    def connected(self) -> threading.Event:
        """Set while consuming; tests and health checks wait on it."""
        return self._connected

    @property
    def in_flight(self) -> int:
        """Deliveries being handled in job threads right now."""
        return len(self._inflight)

    def run(self) -> int:
        """Consume until asked to stop (0), or until the topology cannot be declared (1)."""
        failures = 0
        while not self._stop.is_set():
            self._consumed = False
            try:
                self._session()
            except TopologyMismatch as exc:
                self.log.error(
                    "cannot declare the topology: something exists with other arguments"
                    " (rabbitmq.legacy_queues must match the fleet's queues)",
                    error=str(exc),
                )
                return 1
            except RECONNECTABLE as exc:
                self._generation += 1
                # A connection that worked resets the backoff; one that never did grows it.
                failures = 1 if self._consumed else failures + 1
                self.reconnects += 1
                delay = backoff_seconds(failures, 0.5, RECONNECT_CAP_SECONDS, self.rng)
                self.log.warning("broker connection lost; reconnecting", error=repr(exc), retry_in=round(delay, 2))
                self._stop.wait(delay)
        self.log.info("stopped")
        return 0

    # -- one connection's lifetime -----------------------------------------

    def _session(self) -> None:
        connection = connect(self.rabbitmq, f"tickborg {self.worker.name} {self.identity}")
        self._connection = connection
        self._generation += 1
        try:
            setup = connection.channel()
            declare(setup, self.topology)
            setup.close()
            consumers = [self._consume(connection, queue) for queue in self.queues]
            self._connected.set()
            self._consumed = True
            self.log.info("consuming", queues=list(self.queues), prefetch=self.prefetch)
            while not self._stop.is_set():
                connection.process_data_events(time_limit=POLL_SECONDS)
                self._send_acks()
                for index, (channel, tag) in enumerate(consumers):
                    if not channel.is_open or tag not in channel.consumer_tags:
                        consumers[index] = self._reconsume(connection, self.queues[index], channel)
            self._drain(connection, consumers)
        finally:
            self._connected.clear()
            self._abandon_inflight()
            if connection.is_open:
                try:
                    self._send_acks()  # the channels that are left, after an error on one
                    connection.close()
                except RECONNECTABLE:
                    pass
            self._acks_due, self._acks_count = {}, 0  # tags of this connection's channels

    def _consume(self, connection: pika.BlockingConnection, queue: str) -> tuple[BlockingChannel, str]:
        """A channel of its own for `queue`: one queue's trouble closes only its channel."""
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=self.prefetch)
        return channel, channel.basic_consume(queue, self._on_message_for(queue), auto_ack=False)

    def _reconsume(self, connection: pika.BlockingConnection, queue: str, lost: BlockingChannel) -> tuple[BlockingChannel, str]:
        """One consuming channel closed (a nacked publish closes it on purpose) or its
        consumer cancelled: only its jobs go back to the broker, on a new channel; the
        other queues' jobs (a builder's other systems) run on. A queue that cannot be
        consumed again (deleted) raises, and the whole session starts over."""
        self.lost_channels += 1
        self.log.warning("a consuming channel was lost; consuming its queue again", queue=queue)
        abandoned = [received for received in self._inflight if received.channel is lost]
        for received in abandoned:
            received.cancelled.set()
            self._inflight.remove(received)
        self._acks_due.pop(lost, None)
        if lost.is_open:
            lost.close()  # a cancelled consumer: its unacked deliveries go back with the channel
        if not connection.is_open:
            raise _ConsumerLost(f"the connection closed with the channel of {queue!r}")
        return self._consume(connection, queue)

    def _drain(self, connection: pika.BlockingConnection, consumers: list[tuple[BlockingChannel, str]]) -> None:
        """SIGTERM: take nothing new, let the current job finish or hand it back."""
        self.log.info("stopping: no new messages", in_flight=len(self._inflight))
        for channel, tag in consumers:
            channel.basic_cancel(tag)
        # Results that job threads handed over already are applied whatever the
        # grace, so a finished job is never handed back to run again.
        connection.process_data_events(time_limit=0)
        grace = self.rabbitmq.shutdown_grace_seconds if self.worker.finish_on_shutdown else 0.0
        deadline = time.monotonic() + grace
        while self._inflight and time.monotonic() < deadline:
            connection.process_data_events(time_limit=POLL_SECONDS)
        for received in list(self._inflight):
            self.log.warning("handing an unfinished job back to the broker", **received.context)
            self._finish(received)
            received.channel.basic_reject(received.tag, requeue=True)
        self._generation += 1  # late results of abandoned jobs are dropped

    def _abandon_inflight(self) -> None:
        """The connection is going: its jobs' deliveries go back to the broker with it."""
        for received in self._inflight:
            received.cancelled.set()
        self._inflight = []

    def _finish(self, received: _Received) -> None:
        """No more actions for this delivery: it was settled, or given up to the broker."""
        received.settled = True
        received.cancelled.set()
        if received in self._inflight:
            self._inflight.remove(received)

    # -- deliveries ---------------------------------------------------------

    def _on_message_for(self, queue: str) -> Callable[..., None]:
        def on_message(channel: BlockingChannel, method: Any, props: pika.BasicProperties, body: bytes) -> None:
            if self._stop.is_set():
                return  # stopping: left unacked, the broker hands it to another consumer
            headers = props.headers or {}
            redeliveries = broker_redeliveries(headers, method.redelivered)
            delivery = Delivery(
                queue=queue,
                routing_key=original_routing_key(headers, method.routing_key),
                content_type=props.content_type,
                body=body,
                attempt=attempt_of(headers, redeliveries),
            )
            context = {"worker": self.worker.name, "identity": self.identity, "queue": queue, "delivery_tag": method.delivery_tag}
            received = _Received(channel, method.delivery_tag, props, delivery, self._generation, context, redeliveries)
            self.events(JOB_RECEIVED)
            if method.redelivered:
                owed = self._unsettled.take(received.fingerprint)
                verdict = owed or self._unsettled_redelivery(received, headers)
                if verdict is not None:
                    with structlog.contextvars.bound_contextvars(**received.context):
                        if owed is not None:
                            self.log.warning("settling a redelivery with the verdict its channel died before taking")
                        self._settle_unrun(received, verdict)
                    return
            if not self.worker.long_running:
                job, dumped = self._decode(received)
                with structlog.contextvars.bound_contextvars(**received.context):
                    self._apply(received, dumped or run_simple(self.worker, job, self._attempt(received)))  # type: ignore[arg-type]
                return
            self._inflight.append(received)
            # A daemon thread: an abandoned job must not keep a stopping process alive.
            threading.Thread(target=self._run_job, args=(received,), name=f"{self.worker.name}-job", daemon=True).start()

        return on_message

    def _unsettled_redelivery(self, received: _Received, headers: dict[str, Any]) -> Action | None:
        """The verdict on a redelivery that no run of ours settled (its consumer died, or
        lost its connection), or None when it may run. A quorum queue counts such
        returns, and past the attempts allowed the message is dead-lettered unrun. A
        classic queue only says `redelivered`: the return becomes a retry of the attempt
        its header names, so the count grows there too and the message cannot loop."""
        if DELIVERY_COUNT_HEADER not in headers:
            received.redeliveries = 0  # the attempt that ended unsettled is the one the header names
            return NackRequeue(UNSETTLED_REDELIVERY)
        if received.delivery.attempt > self.policy.max_attempts:
            return NackDump(gave_up(received.delivery.attempt - 1, UNSETTLED_REDELIVERY))
        return None

    def _settle_unrun(self, received: _Received, verdict: Action) -> None:
        """Settle a delivery without running its job; one that is dead-lettered so still
        gets what ends what the job began (the worker's `on_dead_letter`)."""
        attempt = Attempt(attempt_of(received.props.headers, received.redeliveries), self.policy.max_attempts)
        endings: list[Action] = []
        if attempt.dead_reason(verdict) is not None:
            job, dumped = decode_or_dump(self.worker, received.delivery)
            if not dumped:
                endings = dead_end(self.worker, job, verdict, attempt)
        self._apply(received, [*endings, verdict])

    def _decode(self, received: _Received) -> tuple[Any, list[Action]]:
        job, dumped = decode_or_dump(self.worker, received.delivery)
        self.events(DECODE_FAILURE if dumped else DECODE_SUCCESS)
        if not dumped:
            received.context.update(self.worker.log_context(job))
        return job, dumped

    def _attempt(self, received: _Received) -> Attempt:
        return Attempt(received.delivery.attempt, self.policy.max_attempts)

    def _run_job(self, received: _Received) -> None:
        """In a worker thread: everything that touches the channel goes back to its thread."""
        connection = self._connection
        assert connection is not None

        def send(actions: list[Action], publish_only: bool) -> None:
            if received.cancelled.is_set():
                return
            if publish_only:
                while not received.backlog.acquire(timeout=1.0):
                    if received.cancelled.is_set():
                        return

            def apply() -> None:
                try:
                    with structlog.contextvars.bound_contextvars(**received.context):
                        self._apply(received, actions)
                finally:
                    if publish_only:
                        received.backlog.release()

            try:
                connection.add_callback_threadsafe(apply)
            except CONNECTION_ERRORS:
                self.log.warning("connection gone before the job finished; the broker redelivers it")

        try:
            job, dumped = self._decode(received)
            with structlog.contextvars.bound_contextvars(**received.context), working_for(received.cancelled):
                if dumped:
                    send(dumped, False)
                elif isinstance(self.worker, NotifyWorker):
                    publish_or_verdict = lambda a: send([a], isinstance(a, Publish))
                    run_notify(self.worker, job, publish_or_verdict, received.cancelled, self._attempt(received))
                else:
                    send(run_simple(self.worker, job, self._attempt(received)), False)
        except Exception:  # noqa: BLE001 - never let a job thread die silently
            self.log.exception("job thread failed")
            send([NackRequeue("job thread failed")], False)

    # -- applying actions (connection thread only) ----------------------------

    def _apply(self, received: _Received, actions: list[Action]) -> None:
        if received.settled:
            self.log.debug("delivery settled already; its job's later actions are dropped", actions=len(actions))
            return
        if received.generation != self._generation or not received.channel.is_open:
            self.log.warning("channel gone; dropping actions, the broker redelivers")
            received.cancelled.set()
            return
        try:
            for action in actions:
                verdict = self._publish(received.channel, action) if isinstance(action, Publish) else action
                if verdict is not None:
                    self._settle(received, verdict)
                    return
        except (pika.exceptions.ChannelClosedByBroker, pika.exceptions.NackError) as exc:
            # The job's own publish closed the channel (say, a missing exchange), or
            # was nacked: RabbitMQ 3.10 goes on nacking every publish of a channel that
            # first reached a quorum queue during its leader election, so a nacked
            # channel is closed and the session starts over on a new connection. The
            # delivery goes back to the broker with the channel; its redelivery takes
            # this verdict at once, so it counts as one failed attempt, not a loop.
            self.log.error("a publish failed on this channel; the redelivery will be retried", error=repr(exc))
            closed = isinstance(exc, pika.exceptions.ChannelClosedByBroker)
            reason = f"the broker closed the channel: {exc}" if closed else "the broker nacked a publish"
            self._unsettled.remember(received.fingerprint, NackRequeue(reason))
            self._finish(received)
            if received.channel.is_open:
                received.channel.close()

    def _publish(self, channel: BlockingChannel, action: Publish) -> NackRequeue | None:
        """Publish and wait for the confirm; a refused publish makes the delivery's verdict a retry."""
        self._send_acks()
        try:
            channel.basic_publish(action.exchange, action.routing_key, action.body(), properties(), mandatory=True)
        except pika.exceptions.UnroutableError as exc:
            self.log.error("publish not routed", exchange=action.exchange, routing_key=action.routing_key, error=repr(exc))
            return NackRequeue(f"publish to {action.exchange!r}/{action.routing_key!r} failed: {exc!r}")
        return None

    def _settle(self, received: _Received, verdict: Action) -> None:
        channel, tag, props, delivery = received.channel, received.tag, received.props, received.delivery
        self._finish(received)
        now = datetime.datetime.now(datetime.timezone.utc)
        if isinstance(verdict, NackRequeue):
            plan = plan_retry(
                delivery.queue, delivery.routing_key, props.headers, verdict, self.policy, now, self.rng,
                received.redeliveries,
            )
        elif isinstance(verdict, NackDump):
            plan = plan_dump(delivery.queue, delivery.routing_key, props.headers, verdict, now)
        else:
            assert isinstance(verdict, Ack)
            self._ack(channel, tag)
            self.log.debug("acked")
            return
        try:
            self._republish(channel, plan, props, delivery.body)
        except REFUSED as exc:
            # Could not park the copy: leave the original with the broker instead
            # (and leave a nacking channel, as above).
            self.log.error("could not republish; requeueing at the broker", error=repr(exc))
            channel.basic_reject(tag, requeue=True)
            if isinstance(exc, pika.exceptions.NackError):
                channel.close()
            return
        channel.basic_ack(tag)
        if plan.exchange:
            self.events(Event.of("dead-lettered", delivery.queue))
            self.log.warning("dead-lettered", dead_queue=f"{delivery.queue}.dead", reason=_reason(verdict))
        else:
            self.log.warning("retry scheduled", attempt=delivery.attempt, retry_in=plan.delay_seconds, reason=_reason(verdict))

    def _ack(self, channel: BlockingChannel, tag: int) -> None:
        if not self._batch_acks:
            self._acknowledge({channel: tag}, multiple=False)
            return
        # Settled in tag order on this thread: the highest tag's `multiple` ack
        # covers every delivery settled before it on the channel, and no other.
        self._acks_due[channel] = tag
        self._acks_count += 1
        if self._acks_count >= self._ack_batch:
            self._send_acks()

    def _send_acks(self) -> None:
        due, self._acks_due, self._acks_count = self._acks_due, {}, 0
        if due:
            self._acknowledge(due, multiple=True)

    def _acknowledge(self, due: dict[BlockingChannel, int], multiple: bool) -> None:
        """Ack up to each tag, once the worker made durable what they stand for."""
        try:
            self.worker.before_ack()
        except Exception:  # noqa: BLE001 - whatever failed, these must not be acked
            self.log.exception("could not make the handled deliveries durable; the broker hands them out again")
            for channel, tag in due.items():
                if channel.is_open:
                    channel.basic_nack(tag, multiple=multiple, requeue=True)
            return
        for channel, tag in due.items():
            if channel.is_open:
                channel.basic_ack(tag, multiple=multiple)

    def _republish(self, channel: BlockingChannel, plan: Republish, props: pika.BasicProperties, body: bytes) -> None:
        self._send_acks()
        channel.basic_publish(plan.exchange, plan.routing_key, body, copy_properties(props, plan.headers), mandatory=True)


def _reason(verdict: Action) -> str:
    return getattr(verdict, "reason", "")
