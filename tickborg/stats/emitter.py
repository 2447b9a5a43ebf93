"""The stats emitter: a process's events to the `stats` exchange, never in its way.

`emitter(event)` only appends to a bounded in-memory queue. A thread of its
own drains the queue every `POLL_SECONDS` in batches (one EventMessage per
batch) into a confirming `Publisher` on a connection of its own. Metrics are
worth less than the work they describe: when the queue is full, or the broker
stays away longer than `patience`, events are dropped and counted, and the
count is logged at most once per `report_every` seconds.

Only the exchange is declared: until the stats process binds `stats-events`,
the broker drops the events, so an absent stats process cannot fill a queue.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from concurrent.futures import Future
from contextlib import contextmanager

from tickborg.config import Config
from tickborg.logsetup import get_logger
from tickborg.messages import Event, EventMessage
from tickborg.publisher import Message, Publisher, Unavailable
from tickborg.stats.emit import sender_of
from tickborg.topology import STATS, build_topology

CAPACITY = 10_000
BATCH = 100
PATIENCE_SECONDS = 5.0
REPORT_EVERY_SECONDS = 60.0
POLL_SECONDS = 0.2
SHUTDOWN_CONFIRM_SECONDS = 2.0
# EventMessages awaiting their confirm; more than this and the broker is not keeping up.
MAX_UNCONFIRMED = 100


class _Drops:
    """Dropped events: counted always, logged at most once per interval."""

    def __init__(self, report_every: float) -> None:
        self._report_every = report_every
        self._lock = threading.Lock()
        self.total = 0
        self._unreported = 0
        self._reported_at: float | None = None
        self._log = get_logger(__name__)

    def add(self, count: int, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.total += count
            self._unreported += count
            if self._reported_at is not None and now - self._reported_at < self._report_every:
                return
            self._reported_at, unreported, self._unreported = now, self._unreported, 0
            total = self.total
        self._log.warning("stats events dropped", dropped=unreported, dropped_total=total, reason=reason)


class StatsEmitter:
    """Call it with an Event: it never blocks and never raises."""

    def __init__(
        self,
        publisher: Publisher,
        sender: str,
        capacity: int = CAPACITY,
        batch: int = BATCH,
        patience: float = PATIENCE_SECONDS,
        report_every: float = REPORT_EVERY_SECONDS,
    ) -> None:
        self.sender = sender
        self._publisher = publisher
        self._queue: queue.Queue[Event] = queue.Queue(capacity)
        self._batch = batch
        self._patience = patience
        self._drops = _Drops(report_every)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats-emitter", daemon=True)

    def __call__(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._drops.add(1, "queue full")

    @property
    def dropped(self) -> int:
        return self._drops.total

    @property
    def connected(self) -> bool:
        """Whether events can reach the broker now."""
        return self._publisher.ready

    def start(self) -> None:
        self._publisher.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting at most a moment for the broker), then close the connection."""
        self._stopping.set()
        self._thread.join(timeout)
        self._publisher.stop()

    def _run(self) -> None:
        # Wakes on a cadence, not for each event: at a thousand events a second, a
        # wake-up and a publish per event cost the receiver a fifth of its CPU.
        while True:
            stopping = self._stopping.wait(POLL_SECONDS)
            sent = [self._send(events) for events in iter(self._take_batch, [])]
            if stopping:
                # The last batches get their confirms before stop() closes the connection.
                futures.wait([future for future in sent if future is not None], timeout=SHUTDOWN_CONFIRM_SECONDS)
                return

    def _take_batch(self) -> list[Event]:
        events: list[Event] = []
        while len(events) < self._batch:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return events

    def _send(self, events: list[Event]) -> Future[None] | None:
        # A reconnecting broker costs nothing: the batch waits (and the queue fills) a little.
        deadline = time.monotonic() + self._patience
        while not self._publisher.ready and time.monotonic() < deadline and not self._stopping.is_set():
            self._stopping.wait(0.05)
        body = json.dumps(EventMessage(self.sender, tuple(events)).to_json(), separators=(",", ":")).encode()
        try:
            future = self._publisher.submit(Message("", body, None))
        except Unavailable as exc:
            self._drops.add(len(events), str(exc))
            return None
        future.add_done_callback(lambda done: self._confirmed(done, len(events)))
        return future

    def _confirmed(self, future: Future[None], count: int) -> None:
        error = future.exception()
        if error is not None:
            self._drops.add(count, str(error))


def stats_emitter(config: Config, process: str) -> StatsEmitter:
    """The emitter of process `process` (not started): every tickborg process builds its own here."""
    publisher = Publisher(
        config.rabbitmq,
        build_topology(config).select(()),
        STATS,
        name=f"tickborg {process} {config.identity} stats",
        max_unconfirmed=MAX_UNCONFIRMED,
        confirm_overdue=PATIENCE_SECONDS,
    )
    return StatsEmitter(publisher, sender_of(config.identity, process))


@contextmanager
def emitting(config: Config, process: str) -> Iterator[StatsEmitter]:
    """A started emitter for the process's lifetime."""
    emitter = stats_emitter(config, process)
    emitter.start()
    try:
        yield emitter
    finally:
        emitter.stop()
