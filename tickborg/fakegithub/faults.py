"""Failures the fake GitHub can be told to produce instead of answering.

A `Fault` says what goes wrong; `Faults.add` arms it for the next N calls (or
all calls) whose method and path match. Headers that carry times (rate-limit
reset) are computed when the fault fires, from the server's clock.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Literal

import attrs

DOCS = "https://docs.github.com/rest"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@attrs.frozen
class Fault:
    # respond: answer with `status`; drop: close the connection without a word;
    # delay: wait `seconds`, then answer normally (for client timeouts).
    kind: Literal["respond", "drop", "delay"]
    status: int = 0
    message: str = ""
    retry_after: int | None = None
    reset_in: int | None = None  # sets x-ratelimit-remaining: 0 and x-ratelimit-reset
    seconds: float = 0.0

    def headers(self, now: float) -> dict[str, str]:
        headers = {}
        if self.reset_in is not None:
            headers["x-ratelimit-limit"] = "5000"
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-used"] = "5000"
            headers["x-ratelimit-reset"] = str(int(now) + self.reset_in)
        if self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
        return headers

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "documentation_url": DOCS}


def bad_credentials() -> Fault:
    return Fault("respond", 401, "Bad credentials")


def server_error(status: int = 500) -> Fault:
    return Fault("respond", status, "Server Error")


def error(status: int, message: str) -> Fault:
    """Any other answer, e.g. 403 "Resource not accessible by integration"."""
    return Fault("respond", status, message)


def rate_limited(status: int = 403, reset_in: int | None = 60, retry_after: int | None = None) -> Fault:
    """The primary rate limit: `x-ratelimit-remaining: 0` (unless reset_in is None)."""
    return Fault(
        "respond", status, "API rate limit exceeded for installation.", retry_after, reset_in
    )


def secondary_rate_limit(retry_after: int | None = None, status: int = 403) -> Fault:
    return Fault("respond", status, SECONDARY_MESSAGE, retry_after)


def drop_connection() -> Fault:
    return Fault("drop")


def delay(seconds: float) -> Fault:
    return Fault("delay", seconds=seconds)


@attrs.define
class FaultRule:
    fault: Fault
    method: str | None  # None: any method
    path: re.Pattern[str]  # full match against the path without the query
    remaining: int | None  # None: every matching call

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.path.fullmatch(path) is not None


class Faults:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self, fault: Fault, method: str | None = None, path: str = ".*", times: int | None = 1
    ) -> FaultRule:
        rule = FaultRule(fault, method, re.compile(path), times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this call, if one is armed; rules are used up in the order added."""
        with self._lock:
            rule = next((r for r in self._rules if r.matches(method, path)), None)
            if rule is None:
                return None
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
            return rule.fault
