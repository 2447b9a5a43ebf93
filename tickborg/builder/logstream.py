"""A build's log, streamed through the confirming publisher (SPEC §9, Log streaming).

Lines are published as they come (in small batches, within 50 ms), without
waiting for their confirms: at most `window` may be unconfirmed, and only then
does the build wait. `finish` waits
until the broker confirmed every one, so the result, published after it, never
overtakes a line. A line the broker refuses (a nack, a lost connection, confirms
overdue) fails the stream: the job is retried.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from tickborg.messages import BuildLogMsg
from tickborg.publisher import Message, Unavailable
from tickborg.runtime.actions import Publish, WireMessage

POLL_SECONDS = 0.5
# Lines go to the publisher in batches (one future, one wake-up of its thread
# each): at most this many, and none waits longer than FLUSH_SECONDS.
BATCH_LINES = 200
FLUSH_SECONDS = 0.05


class Submitting(Protocol):
    def submit_batch(self, messages: Sequence[Message]) -> Future[None]: ...


class LogRefused(Exception):
    """The broker did not take (or confirm) part of the log."""


class LogStream:
    """Use as a context manager: a thread sends lines buffered for `FLUSH_SECONDS`."""

    def __init__(
        self,
        publisher: Submitting,
        destination: tuple[str, str],
        system: str,
        identity: str,
        attempt_id: str,
        tail_lines: int,
        window: int,
        confirm_timeout: float,
    ) -> None:
        self._publisher = publisher
        self._destination = destination
        self._system = system
        self._identity = identity
        self._attempt_id = attempt_id
        self._window = window
        self._confirm_timeout = confirm_timeout
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._lines = 0
        # Shared with the flusher and the publisher's thread (which settles the futures):
        self._changed = threading.Condition()
        self._buffer: list[Message] = []
        self._unconfirmed = 0
        self._progress_at = time.monotonic()
        self._failure: str | None = None
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="log-flusher", daemon=True)

    def __enter__(self) -> LogStream:
        self._flusher.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closed.set()
        self._flusher.join()

    @property
    def tail(self) -> tuple[str, ...]:
        """The last `tail_lines` lines: the result's `output`."""
        return tuple(self._tail)

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def line(self, text: str) -> None:
        """Queue one output line; sent within `FLUSH_SECONDS`, or at once when a batch is full."""
        self._lines += 1
        self._tail.append(text)
        message = BuildLogMsg(self._system, self._identity, self._attempt_id, self._lines, text)
        with self._changed:
            self._raise_failure()
            self._buffer.append(_message(self._destination, message))
            if len(self._buffer) >= BATCH_LINES:
                self._flush()

    def publish(self, destination: tuple[str, str], message: WireMessage) -> None:
        """Send `message` to (exchange, routing key) now, after the lines before it."""
        with self._changed:
            self._buffer.append(_message(destination, message))
            self._flush()

    def finish(self) -> None:
        """Return once the broker confirmed every message; LogRefused if it will not."""
        with self._changed:
            self._flush()
            while self._unconfirmed and self._failure is None:
                self._wait()
            self._raise_failure()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            with self._changed:
                if self._failure is None:
                    self._flush()

    def _flush(self) -> None:
        """Under the condition: submit the buffer as one batch, once the window has room."""
        while self._buffer and self._unconfirmed + len(self._buffer) > self._window and self._failure is None:
            self._wait()
        self._raise_failure()
        if not self._buffer:
            return  # another thread sent it while this one waited
        batch, self._buffer = self._buffer, []
        if not self._unconfirmed:
            self._progress_at = time.monotonic()  # the overdue clock runs only while some wait
        self._unconfirmed += len(batch)
        try:
            future = self._publisher.submit_batch(batch)
        except Unavailable as exc:
            self._unconfirmed -= len(batch)
            self._failure = str(exc)
            raise LogRefused(self._failure) from None
        future.add_done_callback(lambda done: self._settled(len(batch), _error(done)))

    def _wait(self) -> None:
        """Under the condition: wait for a confirm, failing the stream when they stop coming."""
        self._changed.wait(POLL_SECONDS)
        if self._unconfirmed and time.monotonic() - self._progress_at > self._confirm_timeout:
            self._failure = f"no confirm from the broker for {self._confirm_timeout:g} s"

    def _settled(self, count: int, error: str | None) -> None:
        with self._changed:
            self._unconfirmed -= count
            self._progress_at = time.monotonic()
            if error is not None and self._failure is None:
                self._failure = error
            self._changed.notify_all()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise LogRefused(self._failure)


def _message(destination: tuple[str, str], message: WireMessage) -> Message:
    exchange, routing_key = destination
    return Message(routing_key, Publish(exchange, routing_key, message).body(), None, exchange)


def _error(future: Future[None]) -> str | None:
    exc = future.exception()
    return None if exc is None else f"{type(exc).__name__}: {exc}"
