"""A build's log, streamed through the confirming publisher (SPEC §9, Log streaming).

Lines are published as they come, without waiting for their confirms: at most
`window` may be unconfirmed, and only then does the build wait. `finish` waits
until the broker confirmed every one, so the result, published after it, never
overtakes a line. A line the broker refuses (a nack, a lost connection, confirms
overdue) fails the stream: the job is retried.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import Future
from typing import Protocol

from tickborg.messages import BuildLogMsg
from tickborg.publisher import Message, Unavailable
from tickborg.runtime.actions import Publish, WireMessage

POLL_SECONDS = 0.5


class Submitting(Protocol):
    def submit(self, message: Message) -> Future[None]: ...


class LogRefused(Exception):
    """The broker did not take (or confirm) part of the log."""


class LogStream:
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
        # Shared with the publisher's thread, which settles the futures:
        self._changed = threading.Condition()
        self._unconfirmed = 0
        self._progress_at = time.monotonic()
        self._failure: str | None = None

    @property
    def tail(self) -> tuple[str, ...]:
        """The last `tail_lines` lines: the result's `output`."""
        return tuple(self._tail)

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def line(self, text: str) -> None:
        self._lines += 1
        self._tail.append(text)
        message = BuildLogMsg(self._system, self._identity, self._attempt_id, self._lines, text)
        self.publish(self._destination, message)

    def publish(self, destination: tuple[str, str], message: WireMessage) -> None:
        """Publish `message` to (exchange, routing key), waiting only while the window is full."""
        body = Publish(*destination, message).body()
        with self._changed:
            while self._unconfirmed >= self._window and self._failure is None:
                self._wait()
            self._raise_failure()
            if not self._unconfirmed:
                self._progress_at = time.monotonic()  # the overdue clock runs only while some wait
            self._unconfirmed += 1
        try:
            future = self._publisher.submit(Message(destination[1], body, None, destination[0]))
        except Unavailable as exc:
            self._settled(str(exc))
            self._raise_failure()
            return
        future.add_done_callback(lambda done: self._settled(_error(done)))

    def finish(self) -> None:
        """Return once the broker confirmed every message; LogRefused if it will not."""
        with self._changed:
            while self._unconfirmed and self._failure is None:
                self._wait()
            self._raise_failure()

    def _wait(self) -> None:
        """Under the condition: wait for a confirm, failing the stream when they stop coming."""
        self._changed.wait(POLL_SECONDS)
        if self._unconfirmed and time.monotonic() - self._progress_at > self._confirm_timeout:
            self._failure = f"no confirm from the broker for {self._confirm_timeout:g} s"

    def _settled(self, error: str | None) -> None:
        with self._changed:
            self._unconfirmed -= 1
            self._progress_at = time.monotonic()
            if error is not None and self._failure is None:
                self._failure = error
            self._changed.notify_all()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise LogRefused(self._failure)


def _error(future: Future[None]) -> str | None:
    exc = future.exception()
    return None if exc is None else f"{type(exc).__name__}: {exc}"
