"""The pure core of the runtime: decode/handle → actions, and retry planning."""

from __future__ import annotations

import datetime
import random
import subprocess
import sys

import pytest

from support.workers import ScriptedWorker, StreamingWorker
from tickborg.runtime.actions import Ack, Action, NackDump, NackRequeue, Publish
from tickborg.runtime.retry import (
    ATTEMPT_HEADER,
    DEAD_REASON_HEADER,
    DELIVERY_COUNT_HEADER,
    ROUTING_KEY_HEADER,
    RetryPolicy,
    attempt_of,
    broker_redeliveries,
    original_routing_key,
    plan_dump,
    plan_retry,
)
from tickborg.runtime.abandon import Abandoned
from tickborg.runtime.worker import Attempt, Delivery, SimpleWorker, decide, ensure_verdict, run_notify, run_simple
from tickborg.topology import DEAD_LETTER, RETRY_DELAYS, RETRY_HEADER, retry_queue

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)


def delivery(body: bytes) -> Delivery:
    return Delivery("in", "rk", "application/json", body)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": 1, "do": "ack"}', b"\xff\xfe"])
def test_undecodable_is_dumped(body: bytes) -> None:
    [action] = decide(ScriptedWorker(), delivery(body))
    assert isinstance(action, NackDump) and action.reason.startswith("decode failure")


def test_handler_exception_is_requeued_not_raised() -> None:
    [action] = decide(ScriptedWorker(), delivery(b'{"id": "a", "do": "fail"}'))
    assert isinstance(action, NackRequeue) and "scripted failure" in action.reason


def test_success_publishes_then_acks() -> None:
    publish, ack = decide(ScriptedWorker(), delivery(b'{"id": "a", "do": "ack"}'))
    assert isinstance(publish, Publish) and publish.routing_key == "out" and ack == Ack()


@pytest.mark.parametrize(
    "actions",
    [[], [Publish("", "q", b"x")], [Ack(), Publish("", "q", b"x")], [Ack(), Ack()]],
)
def test_a_worker_without_exactly_one_final_verdict_is_retried(actions: list[Action]) -> None:
    [action] = ensure_verdict(actions)
    assert isinstance(action, NackRequeue) and "worker bug" in action.reason


def test_notify_worker_sees_publishes_then_one_verdict() -> None:
    seen: list[Action] = []
    worker = StreamingWorker()
    run_notify(worker, worker.decode("", None, b'{"id": "a", "do": "x"}'), seen.append)
    assert [type(a) for a in seen] == [Publish, Ack]


def test_notify_worker_that_raises_gets_a_requeue() -> None:
    seen: list[Action] = []
    run_notify(StreamingWorker(), {}, seen.append)  # job["id"] raises KeyError
    assert len(seen) == 1 and isinstance(seen[0], NackRequeue)


class GivenUpWorker(SimpleWorker[str]):
    """Its write finds the job abandoned; its dead-letter ending would write too."""

    def __init__(self) -> None:
        self.endings: list[str] = []

    def handle(self, job: str) -> list[Action]:
        raise Abandoned("POST /statuses")

    def on_dead_letter(self, job: str, reason: str) -> list[Publish]:
        self.endings.append(reason)
        return [Publish("", "out", b"ending")]


def test_an_abandoned_simple_job_stops_with_nothing_to_end() -> None:
    worker = GivenUpWorker()
    [action] = run_simple(worker, "job", Attempt(number=5, allowed=5))  # its last attempt, too
    assert isinstance(action, NackRequeue) and "abandoned before POST /statuses" in action.reason
    assert worker.endings == []  # the runtime takes none of it; the copy ends what it began


def test_attempt_counter_and_routing_key_headers() -> None:
    assert attempt_of(None) == 1 and attempt_of({ATTEMPT_HEADER: 3}) == 3
    assert attempt_of({ATTEMPT_HEADER: "x"}) == 1
    assert original_routing_key({ROUTING_KEY_HEADER: "push.a/b"}, "tickborg-retry.4s") == "push.a/b"
    assert original_routing_key({}, "pull_request.a/b") == "pull_request.a/b"


def test_retries_grow_then_dead_letter_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1.0, cap_seconds=300.0)
    rng = random.Random(7)
    headers: dict[str, object] = {"x-custom": "kept"}
    delays = []
    for attempt in range(1, 5):
        plan = plan_retry("in", "rk", headers, NackRequeue("boom"), policy, NOW, rng)
        assert plan.exchange == "" and plan.headers[ATTEMPT_HEADER] == attempt + 1
        assert plan.headers[RETRY_HEADER] == "in" and plan.headers["x-custom"] == "kept"
        assert plan.delay_seconds in RETRY_DELAYS and plan.routing_key == retry_queue(plan.delay_seconds)
        # The level is the delay: full jitter puts it between half the ceiling and the ceiling's level.
        assert 2 ** (attempt - 1) / 2 <= plan.delay_seconds <= 2 ** (attempt - 1)
        delays.append(plan.delay_seconds)
        headers = plan.headers
    assert delays == sorted(delays) and delays[-1] > delays[0] * 4
    final = plan_retry("in", "rk", headers, NackRequeue("boom"), policy, NOW, rng)
    assert final.exchange == DEAD_LETTER and final.routing_key == "in"
    assert "gave up after 5 attempts: boom" in final.headers[DEAD_REASON_HEADER]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=100, base_seconds=1.0, cap_seconds=300.0)
    plan = plan_retry("in", "rk", {ATTEMPT_HEADER: 40}, NackRequeue(), policy, NOW, random.Random(1))
    assert plan.delay_seconds is not None and 150 <= plan.delay_seconds <= 384  # the level holding the cap


def test_rate_limit_reset_time_is_never_beaten() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=1.0, cap_seconds=300.0)
    reset = NOW.timestamp() + 900
    plan = plan_retry("in", "rk", None, NackRequeue("rate limited", not_before=reset), policy, NOW, random.Random(1))
    assert plan.delay_seconds == 1024 and plan.routing_key == retry_queue(1024)


def test_broker_redeliveries_count_as_attempts() -> None:
    assert broker_redeliveries(None, redelivered=False) == 0
    assert broker_redeliveries(None, redelivered=True) == 1  # a classic queue only says it happened
    assert broker_redeliveries({DELIVERY_COUNT_HEADER: 3}, redelivered=True) == 3  # a quorum queue counts
    assert attempt_of({ATTEMPT_HEADER: 2}, redeliveries=3) == 5
    policy = RetryPolicy(max_attempts=5)
    plan = plan_retry("in", "rk", {ATTEMPT_HEADER: 2, DELIVERY_COUNT_HEADER: 1}, NackRequeue(), policy, NOW, None, 1)
    # The copy is new to the broker: it carries our counter, not the broker's.
    assert plan.headers[ATTEMPT_HEADER] == 4 and DELIVERY_COUNT_HEADER not in plan.headers
    dead = plan_retry("in", "rk", {ATTEMPT_HEADER: 2}, NackRequeue("boom"), policy, NOW, None, 3)
    assert dead.exchange == DEAD_LETTER and "gave up after 5 attempts" in dead.headers[DEAD_REASON_HEADER]


def test_delay_levels_are_exact_and_fine_enough_for_jitter() -> None:
    """Each level has one TTL, so order within a level is order of expiry; steps are at most 1.5x."""
    assert RETRY_DELAYS[0] == 1 and RETRY_DELAYS[-1] >= 3600
    assert all(later <= 2 * earlier for earlier, later in zip(RETRY_DELAYS, RETRY_DELAYS[1:]))
    assert all(later / earlier <= 1.5 for earlier, later in zip(RETRY_DELAYS[1:], RETRY_DELAYS[2:]))


def test_dump_keeps_the_reason_and_the_original_routing_key() -> None:
    plan = plan_dump("in", "push.acme/x", {"a": 1}, NackDump("decode failure: bad"), NOW)
    assert (plan.exchange, plan.routing_key) == (DEAD_LETTER, "in")
    assert plan.headers[DEAD_REASON_HEADER] == "decode failure: bad"
    assert plan.headers[ROUTING_KEY_HEADER] == "push.acme/x" and plan.headers["a"] == 1


def test_retry_planning_is_pure() -> None:
    """The retry arithmetic and planning load without pika: only the consumer touches the broker."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, tickborg.runtime.retry; print('pika' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == "False", loaded.stderr
