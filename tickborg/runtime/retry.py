"""Bounded, delayed retries and dead-lettering, as pure decisions (SPEC §4).

A NackRequeue never goes back to the head of its queue (that is the hot loop
of a GitHub outage). Instead the runtime publishes a copy, carrying an attempt
counter, to a delay queue whose expiry routes it back to its work queue, and
acks the original. After `max_attempts` the message goes to `{queue}.dead`.

Attempts count the broker's redeliveries too (a consumer that crashed, or a
channel the job's own publish closed), so a message that keeps killing its
consumer also ends in `{queue}.dead`, on classic queues as on quorum ones (where
the runtime turns a bare `redelivered` into a retry, so the counter grows).
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import attrs

from tickborg.backoff import backoff_seconds
from tickborg.runtime.actions import NackDump, NackRequeue
from tickborg.topology import DEAD_LETTER, RETRY_DELAYS, RETRY_HEADER, retry_queue

ATTEMPT_HEADER = "tickborg-attempt"
ROUTING_KEY_HEADER = "tickborg-routing-key"
ERROR_HEADER = "tickborg-last-error"
DEAD_REASON_HEADER = "tickborg-dead-reason"
DEAD_QUEUE_HEADER = "tickborg-dead-queue"
DEAD_AT_HEADER = "tickborg-dead-at"
# Set by a quorum queue on a redelivery: how often it was returned before.
DELIVERY_COUNT_HEADER = "x-delivery-count"
MAX_REASON = 1000


MAX_ATTEMPTS = 10


@attrs.frozen
class RetryPolicy:
    max_attempts: int = MAX_ATTEMPTS
    base_seconds: float = 1.0
    cap_seconds: float = 300.0


@attrs.frozen
class Republish:
    """Where and how to publish the copy of a delivery; the original is then acked."""

    exchange: str
    routing_key: str
    headers: dict[str, Any]
    delay_seconds: int | None = None  # a retry: the delay queue's TTL


def broker_redeliveries(headers: dict[str, Any] | None, redelivered: bool) -> int:
    """How often the broker handed this copy out before: a quorum queue counts;
    a classic queue only says whether it did."""
    count = (headers or {}).get(DELIVERY_COUNT_HEADER)
    if isinstance(count, int) and count >= 0:
        return count
    return 1 if redelivered else 0


def attempt_of(headers: dict[str, Any] | None, redeliveries: int = 0) -> int:
    """This delivery's attempt: the retry counter we carry plus the broker's redeliveries."""
    value = (headers or {}).get(ATTEMPT_HEADER)
    return (value if isinstance(value, int) and value >= 1 else 1) + redeliveries


def original_routing_key(headers: dict[str, Any] | None, delivered_with: str) -> str:
    """A retried message arrives through the retry exchange; give the worker its first key."""
    value = (headers or {}).get(ROUTING_KEY_HEADER)
    return value if isinstance(value, str) else delivered_with


def gave_up(attempt: int, reason: str) -> str:
    return f"gave up after {attempt} attempts: {reason}"


def _truncate(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def dead_letter(queue: str, routing_key: str, headers: dict[str, Any] | None, reason: str, now: datetime.datetime) -> Republish:
    return Republish(
        DEAD_LETTER,
        queue,
        {
            **(headers or {}),
            DEAD_REASON_HEADER: _truncate(reason),
            DEAD_QUEUE_HEADER: queue,
            ROUTING_KEY_HEADER: routing_key,
            DEAD_AT_HEADER: now.isoformat(),
        },
    )


def delay_for(attempt: int, policy: RetryPolicy, not_before: float | None, now: float, rng: random.Random | None) -> float:
    delay = backoff_seconds(attempt, policy.base_seconds, policy.cap_seconds, rng)
    if not_before is not None:
        # A rate limit's reset time beats the backoff, plus a little jitter so
        # every waiting message does not return in the same second.
        delay = max(delay, not_before - now + (rng or random).uniform(0, 1))
    return min(delay, float(RETRY_DELAYS[-1]))


def plan_retry(
    queue: str,
    routing_key: str,
    headers: dict[str, Any] | None,
    nack: NackRequeue,
    policy: RetryPolicy,
    now: datetime.datetime,
    rng: random.Random | None = None,
    redeliveries: int = 0,
) -> Republish:
    """The delay-queue copy for a NackRequeue, or its dead letter once attempts run out.

    The copy waits in the shortest delay queue that is at least the backoff.
    """
    attempt = attempt_of(headers, redeliveries)
    if attempt >= policy.max_attempts:
        return dead_letter(queue, routing_key, headers, gave_up(attempt, nack.reason), now)
    delay = delay_for(attempt, policy, nack.not_before, now.timestamp(), rng)
    level = next(d for d in RETRY_DELAYS if d >= delay)
    carried = {k: v for k, v in (headers or {}).items() if k != DELIVERY_COUNT_HEADER}  # the copy is new to the broker
    return Republish(
        "",
        retry_queue(level),
        {
            **carried,
            ATTEMPT_HEADER: attempt + 1,
            RETRY_HEADER: queue,
            ROUTING_KEY_HEADER: routing_key,
            ERROR_HEADER: _truncate(nack.reason),
        },
        delay_seconds=level,
    )


def plan_dump(queue: str, routing_key: str, headers: dict[str, Any] | None, nack: NackDump, now: datetime.datetime) -> Republish:
    return dead_letter(queue, routing_key, headers, nack.reason, now)
