"""An asynchronous confirming publisher: a broker connection owned by one thread.

It serves the webhook receiver (HTTP threads wait for each payload's confirm)
and the builder (a build streams log lines and waits only when too many are
unconfirmed). pika connections are not thread-safe, so callers never touch
this one. They `submit` a message, which appends it to an outbox and wakes the
connection's I/O loop, and get a future. The loop publishes
everything in the outbox on a channel in confirm mode and resolves each future
when the broker acks (or nacks) its delivery tag. Many messages are in flight
at once and the broker confirms them in batches (`multiple`), so concurrent
requests share round trips instead of each waiting for its own.

While the broker is unreachable, blocked or still being set up, `submit`
raises `Unavailable` at once (a request is answered 503 quickly); a lost
connection fails every unconfirmed future the same way. A broker can also keep
its connection and withhold confirms (a quorum queue without its majority, a
stalled node): at most `max_unconfirmed` publishes wait for their confirms,
and while that many do, or none has been confirmed for `confirm_overdue`
seconds, `submit` refuses at once and `ready` is False. The thread
reconnects with capped, jittered backoff (to the next node, in a cluster) and
redeclares the topology each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import attrs
import pika
import pika.exceptions
import pika.frame
import pika.spec

from tickborg.backoff import backoff_seconds
from tickborg.broker import connection_parameters, declare, properties
from tickborg.config import RabbitMQConfig
from tickborg.logsetup import get_logger
from tickborg.topology import Topology

RECONNECT_CAP_SECONDS = 30.0


class Unavailable(Exception):
    """The broker cannot take a message now (not connected, blocked, or lost it)."""


class Nacked(Exception):
    """The broker refused the message."""


@attrs.frozen
class Message:
    routing_key: str
    body: bytes
    message_id: str | None
    # None: the publisher's own exchange.
    exchange: str | None = None


@attrs.frozen
class _Queued:
    message: Message
    future: Future[None]
    # The last message of its batch: its confirm (after those of the rest) settles the future.
    last: bool = True


class Confirmations:
    """The futures of one confirm-mode channel's publishes, by delivery tag.

    Tags count publishes on the channel from 1; an ack or nack with `multiple`
    settles every outstanding tag up to its own. A batch's messages share one
    future: a nack of any fails it, the ack of its last (tags are confirmed in
    order) completes it.
    """

    def __init__(self) -> None:
        # Insertion order is tag order, which `_settle` relies on.
        self._waiting: dict[int, tuple[Future[None], bool]] = {}
        self._next_tag = 1

    def published(self, future: Future[None], last: bool = True) -> None:
        self._waiting[self._next_tag] = (future, last)
        self._next_tag += 1

    def ack(self, tag: int, multiple: bool) -> None:
        for future, last in self._settle(tag, multiple):
            if last and not future.done():
                future.set_result(None)

    def nack(self, tag: int, multiple: bool) -> None:
        for future, _ in self._settle(tag, multiple):
            _fail(future, Nacked(f"broker nacked delivery tag {tag}"))

    def fail_all(self, error: Exception) -> None:
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            _fail(future, error)

    def _settle(self, tag: int, multiple: bool) -> list[tuple[Future[None], bool]]:
        if not multiple:
            waiting = self._waiting.pop(tag, None)
            return [] if waiting is None else [waiting]
        settled = []
        while self._waiting:
            first = next(iter(self._waiting))
            if first > tag:
                break
            settled.append(self._waiting.pop(first))
        return settled


class Publisher:
    """Publishes with confirms, to `exchange` unless a message names another, from a thread of its own."""

    def __init__(
        self,
        rabbitmq: RabbitMQConfig,
        topology: Topology,
        exchange: str,
        name: str,
        max_unconfirmed: int,
        confirm_overdue: float,
    ) -> None:
        self._nodes = connection_parameters(rabbitmq, name)
        self._topology = topology
        self._exchange = exchange
        self._retry_base = rabbitmq.retry_base_seconds
        self._retry_cap = min(rabbitmq.retry_cap_seconds, RECONNECT_CAP_SECONDS)
        self._max_unconfirmed = max_unconfirmed
        self._confirm_overdue = confirm_overdue
        self._log = get_logger(__name__, exchange=exchange, broker=rabbitmq.address)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        # Shared with the submitting threads, under the lock:
        self._lock = threading.Lock()
        self._connection: pika.SelectConnection | None = None
        self._channel: Any = None  # set once the topology is declared and confirms are on
        self._blocked = False
        self._outbox: list[_Queued] = []
        self._wake_pending = False
        self._unconfirmed = 0  # submitted, neither confirmed nor failed yet
        self._progress_at: float | None = None  # last confirm (or first submit) while some are unconfirmed
        # The I/O thread's own:
        self._confirms = Confirmations()
        self._became_ready = False
        self.sessions_ready = 0  # connections that became ready, for tests and logs

    @property
    def ready(self) -> bool:
        """True while messages can be published (the receiver's /health)."""
        with self._lock:
            return self._refusal() is None

    def start(self) -> None:
        self._thread.start()

    def submit(self, message: Message) -> Future[None]:
        """Queue `message`; the future completes when the broker confirms it."""
        return self.submit_batch([message])

    def submit_batch(self, messages: Sequence[Message]) -> Future[None]:
        """Queue `messages`, published in order; the future completes when the
        broker confirmed them all, and fails if it refuses any."""
        future: Future[None] = Future()
        count = len(messages)
        with self._lock:
            refusal = self._refusal()
            if refusal is not None:
                raise Unavailable(refusal)
            assert self._connection is not None  # as _refusal saw
            if self._unconfirmed == 0:
                self._progress_at = time.monotonic()
            self._unconfirmed += count
            # Not done yet: runs later, on the thread settling it.
            future.add_done_callback(lambda _: self._settled(count))
            self._outbox.extend(_Queued(message, future, i == count - 1) for i, message in enumerate(messages))
            # One wake-up per batch: the I/O loop takes the whole outbox at once.
            if not self._wake_pending:
                self._wake_pending = True
                self._connection.ioloop.add_callback_threadsafe(self._flush)
        return future

    def _refusal(self) -> str | None:
        """Why no message can be taken now, or None; under the lock."""
        if self._channel is None or self._connection is None:
            return "broker not connected"
        if self._blocked:
            return "broker blocked publishing"
        if self._unconfirmed >= self._max_unconfirmed:
            return f"{self._unconfirmed} publishes wait for the broker's confirm"
        if self._progress_at is not None and time.monotonic() - self._progress_at > self._confirm_overdue:
            return "broker confirms overdue"
        return None

    def _settled(self, count: int) -> None:
        with self._lock:
            self._unconfirmed -= count
            self._progress_at = time.monotonic() if self._unconfirmed else None

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connection (failing whatever is unconfirmed) and end the thread."""
        self._stopping.set()
        with self._lock:
            if self._connection is not None:
                self._connection.ioloop.add_callback_threadsafe(self._close)
        self._thread.join(timeout)

    # ------------------------------------------------------------------
    # Everything below runs on the publisher thread.

    def _run(self) -> None:
        attempt = 0
        node = 0
        while not self._stopping.is_set():
            try:
                became_ready = self._session(self._nodes[node])
            except Exception:  # noqa: BLE001 - a bug here must not leave the process without a broker for good
                self._log.exception("publisher connection failed")
                self._lost(Unavailable("publisher error"))
                became_ready = False
            attempt = 1 if became_ready else attempt + 1
            # Whether the node went or never answered, the next session tries the
            # next node of a cluster (SPEC §13); the backoff keeps a round of dead ones slow.
            node = (node + 1) % len(self._nodes)
            if self._stopping.is_set():
                break
            delay = backoff_seconds(attempt, self._retry_base, self._retry_cap)
            self._log.info("reconnecting to the broker", attempt=attempt, delay_seconds=round(delay, 2))
            self._stopping.wait(delay)
        self._log.info("publisher stopped")

    def _session(self, parameters: pika.ConnectionParameters) -> bool:
        """Run one connection from opening to its end; True if it became ready."""
        self._became_ready = False
        with self._lock:
            if self._stopping.is_set():
                return False
            connection = pika.SelectConnection(
                parameters,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
            self._connection = connection
        try:
            connection.ioloop.start()
        finally:
            with self._lock:
                self._connection = None
            connection.ioloop.close()
        return self._became_ready

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.add_on_connection_blocked_callback(lambda *_: self._set_blocked(True))
        connection.add_on_connection_unblocked_callback(lambda *_: self._set_blocked(False))
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        # pika holds each synchronous method until the previous one is answered,
        # so Confirm.SelectOk arrives only after every declaration succeeded.
        declare(channel, self._topology)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._on_ready(channel))

    def _on_ready(self, channel: Any) -> None:
        self._confirms = Confirmations()
        with self._lock:
            self._channel = channel
        self._became_ready = True
        self.sessions_ready += 1
        self._log.info("broker ready", session=self.sessions_ready)

    def _set_blocked(self, blocked: bool) -> None:
        # A blocked connection (broker resource alarm) would hold every publish:
        # answer 503 at once instead.
        with self._lock:
            self._blocked = blocked
        self._log.warning("broker blocked publishing" if blocked else "broker unblocked publishing")

    def _flush(self) -> None:
        with self._lock:
            queued, self._outbox = self._outbox, []
            self._wake_pending = False
            channel = self._channel
        for item in queued:
            if channel is None or not channel.is_open:
                _fail(item.future, Unavailable("broker channel closed"))
                continue
            message = item.message
            try:
                exchange = self._exchange if message.exchange is None else message.exchange
                channel.basic_publish(exchange, message.routing_key, message.body, properties(message_id=message.message_id))
            except pika.exceptions.AMQPError as exc:
                _fail(item.future, Unavailable(f"publish failed: {exc!r}"))
                continue
            self._confirms.published(item.future, item.last)

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Ack):
            self._confirms.ack(method.delivery_tag, method.multiple)
            return
        self._confirms.nack(method.delivery_tag, method.multiple)
        # Start over on a new channel: RabbitMQ 3.10 goes on nacking every publish of
        # a channel that first reached a quorum queue during its leader election
        # (a cluster losing a node), and nacks are rare otherwise.
        with self._lock:
            channel = self._channel
        if channel is not None and channel.is_open:
            channel.close()

    def _on_channel_closed(self, channel: Any, reason: Exception) -> None:
        # Besides a lost connection: a refused declaration (a queue that exists
        # with other arguments) or another channel error.
        self._lost(Unavailable(f"broker channel closed: {reason}"))
        connection = channel.connection
        if connection.is_open:  # only the channel was closed: start over on a new connection
            self._log.warning("broker channel closed", reason=str(reason))
            connection.close()

    def _on_open_error(self, connection: pika.SelectConnection, error: BaseException) -> None:
        self._log.warning("cannot connect to the broker", error=str(error) or type(error).__name__)
        connection.ioloop.stop()

    def _on_closed(self, connection: pika.SelectConnection, reason: BaseException) -> None:
        self._lost(Unavailable(f"broker connection lost: {reason}"))
        if isinstance(reason, pika.exceptions.ConnectionClosedByClient):  # by stop() or after a channel error
            self._log.info("broker connection closed")
        else:
            self._log.warning("broker connection lost", reason=str(reason))
        connection.ioloop.stop()

    def _lost(self, error: Unavailable) -> None:
        """Fail everything not yet confirmed (the receiver answers 503, a build is retried)."""
        with self._lock:
            self._channel = None
            self._blocked = False
            queued, self._outbox = self._outbox, []
            self._wake_pending = False
        for item in queued:
            _fail(item.future, error)
        self._confirms.fail_all(error)

    def _close(self) -> None:
        connection = self._connection
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close()


def _fail(future: Future[None], error: Exception) -> None:
    # A batch's future fails at its first refused message; the rest find it done.
    if not future.done():
        future.set_exception(error)
