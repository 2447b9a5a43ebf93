"""A build's log, streamed through the confirming publisher (SPEC §9, Log streaming).

The build never waits on the broker: `line` only queues the line. Chunked (the
default), lines gather into a `BuildLogChunk` until it holds `CHUNK_BYTES` or
its first line is `CHUNK_SECONDS` old; otherwise (for a fleet still running
the Rust collector) each line is a `BuildLogMsg`. A flusher thread sends queued
messages in batches as the window allows (at most `window` unconfirmed).
Only when the queue holds `max_buffered_bytes` (the broker far behind a very
chatty build) does `line` wait, rather than run out of memory; the build itself
still does not (its output waits in the phase's spool file, on disk).
`finish` waits until the broker confirmed every line, so the result, published
after it, never overtakes one. A line the broker refuses (a nack, a lost
connection, confirms overdue) fails the stream: the job is retried.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from tickborg.messages import BuildLogChunk, BuildLogMsg
from tickborg.publisher import Message, Unavailable
from tickborg.runtime.actions import Publish, WireMessage

POLL_SECONDS = 0.5
# Lines go to the publisher in batches (one future, one wake-up of its thread
# each): at most this many, and none waits longer than FLUSH_SECONDS.
BATCH_LINES = 200
FLUSH_SECONDS = 0.05
# A chunk is sent once it holds this much, or once its first line waited this long
# (a live reader sees a line well within a second).
CHUNK_BYTES = 64 * 1024
CHUNK_SECONDS = 0.1
# Queued, not yet sent: about 150,000 typical lines; more wait on disk (the phase's spool file).
MAX_BUFFERED_BYTES = 16 * 1024 * 1024
MESSAGE_OVERHEAD_BYTES = 150  # a queued message's objects, beyond its text
LINE_OVERHEAD_BYTES = 50  # a line's in a chunk


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
        chunked: bool = True,
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
    ) -> None:
        self._publisher = publisher
        self._destination = destination
        self._system = system
        self._identity = identity
        self._attempt_id = attempt_id
        self._window = window
        self._confirm_timeout = confirm_timeout
        self._max_buffered_bytes = max_buffered_bytes
        self._chunked = chunked
        # Chunked, in one batch: a chunk is as many lines as a batch of single lines.
        self._batch = 1 if chunked else BATCH_LINES
        # The chunk being gathered: its lines, their size, when its first came.
        self._chunk: list[str] = []
        self._chunk_bytes = 0
        self._chunk_since = 0.0
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._lines = 0
        # Shared with the flusher and the publisher's thread (which settles the futures):
        self._changed = threading.Condition()
        # (destination, message, bytes it holds), not yet sent.
        self._buffer: collections.deque[tuple[tuple[str, str], WireMessage, int]] = collections.deque()
        self._buffered_bytes = 0
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
        with self._changed:
            self._changed.notify_all()
        self._flusher.join()

    @property
    def tail(self) -> tuple[str, ...]:
        """The last `tail_lines` lines: the result's `output`."""
        return tuple(self._tail)

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def line(self, text: str) -> None:
        self.lines([text])

    def lines(self, texts: list[str]) -> None:
        """Queue output lines; the flusher sends them within `FLUSH_SECONDS`.

        Cheap on purpose (the build's output is read on this thread): the JSON is
        made when the lines are sent.
        """
        self._tail.extend(texts)
        with self._changed:
            self._raise_failure()
            if self._chunked:
                self._gather(texts)
            else:
                for text in texts:
                    self._lines += 1
                    line = BuildLogMsg(self._system, self._identity, self._attempt_id, self._lines, text)
                    self._queue(self._destination, line, len(text))
            if len(self._buffer) >= self._batch:
                self._send_what_fits()
            while self._buffered_bytes > self._max_buffered_bytes and self._failure is None:
                self._wait()
                self._send_what_fits()

    def publish(self, destination: tuple[str, str], message: WireMessage) -> None:
        """Send `message` to (exchange, routing key), after the lines before it."""
        with self._changed:
            self._raise_failure()
            self._seal()
            self._queue(destination, message, 0)
            self._send_what_fits()

    def finish(self) -> None:
        """Return once the broker confirmed every message; LogRefused if it will not."""
        with self._changed:
            self._seal()
            while (self._buffer or self._unconfirmed) and self._failure is None:
                self._send_what_fits()
                self._wait()
            self._raise_failure()

    def _flush_periodically(self) -> None:
        with self._changed:
            while not self._closed.is_set():
                wait = FLUSH_SECONDS
                if self._chunk:
                    wait = self._chunk_since + CHUNK_SECONDS - time.monotonic()
                    if wait <= 0:
                        self._seal()
                        wait = FLUSH_SECONDS
                try:
                    self._send_what_fits()
                except LogRefused:
                    pass  # recorded: the build's next line, or finish, raises it
                self._changed.wait(min(wait, FLUSH_SECONDS))  # a confirm (room in the window) wakes it sooner

    def _gather(self, texts: list[str]) -> None:
        """Under the condition: add lines to the chunk, queueing it each time it is full."""
        for text in texts:
            if not self._chunk:
                self._chunk_since = time.monotonic()
            self._chunk.append(text)
            self._chunk_bytes += len(text) + LINE_OVERHEAD_BYTES
            if self._chunk_bytes >= CHUNK_BYTES:
                self._seal()

    def _seal(self) -> None:
        """Under the condition: queue the chunk gathered so far (if any)."""
        if not self._chunk:
            return
        chunk = BuildLogChunk(self._system, self._identity, self._attempt_id, self._lines + 1, tuple(self._chunk))
        self._lines += len(self._chunk)
        self._queue(self._destination, chunk, self._chunk_bytes)
        self._chunk, self._chunk_bytes = [], 0

    def _queue(self, destination: tuple[str, str], message: WireMessage, size: int) -> None:
        self._buffer.append((destination, message, size + MESSAGE_OVERHEAD_BYTES))
        self._buffered_bytes += size + MESSAGE_OVERHEAD_BYTES

    def _send_what_fits(self) -> None:
        """Under the condition: submit queued messages in batches while the window has room."""
        while self._buffer and self._failure is None and self._unconfirmed < self._window:
            size = min(len(self._buffer), BATCH_LINES, self._window - self._unconfirmed)
            queued = [self._buffer.popleft() for _ in range(size)]
            self._buffered_bytes -= sum(bytes_ for _, _, bytes_ in queued)
            batch = [_message(destination, message) for destination, message, _ in queued]
            if not self._unconfirmed:
                self._progress_at = time.monotonic()  # the overdue clock runs only while some wait
            self._unconfirmed += len(batch)
            try:
                future = self._publisher.submit_batch(batch)
            except Unavailable as exc:
                self._unconfirmed -= len(batch)
                self._failure = str(exc)
                raise LogRefused(self._failure) from None
            future.add_done_callback(lambda done, count=len(batch): self._settled(count, _error(done)))

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
