"""The consumer loop against a real RabbitMQ: acks, dead letters, bounded retries."""

from __future__ import annotations

import json
import time
from typing import Callable, Iterator

import attrs
import pytest

from support.runtime import Broker, RunningWorker, drain
from support.workers import ScriptedWorker
from tickborg.config import Config, RabbitMQConfig
from tickborg.logsetup import configure_logging
from tickborg.runtime.retry import ATTEMPT_HEADER, DEAD_REASON_HEADER


@pytest.fixture
def config(rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> Config:
    return make_config(attrs.evolve(rabbitmq_config, delivery_limit=4, retry_base_seconds=0.3))


@pytest.fixture
def broker(config: Config) -> Iterator[Broker]:
    b = Broker(config.rabbitmq)
    yield b
    b.close()


def test_ack_publishes_and_removes_the_message(config: Config, broker: Broker) -> None:
    with RunningWorker(ScriptedWorker(), config):
        broker.send("in", {"id": "m1", "do": "ack"})
        _, body = broker.get("out")
        assert json.loads(body)["id"] == "m1"
        time.sleep(0.3)
        assert broker.count("in") == 0 and broker.count("in.dead") == 0


def test_nack_dump_lands_in_the_dead_letter_queue_with_its_reason(config: Config, broker: Broker) -> None:
    with RunningWorker(ScriptedWorker(), config):
        broker.send("in", {"id": "m2", "do": "dump"})
        props, body = broker.get("in.dead")
    assert json.loads(body) == {"id": "m2", "do": "dump"}
    assert props.headers[DEAD_REASON_HEADER] == "told to dump"
    assert broker.count("in") == 0


def test_undecodable_message_is_dead_lettered_and_the_worker_carries_on(config: Config, broker: Broker) -> None:
    with RunningWorker(ScriptedWorker(), config):
        broker.send("in", b"\x00 definitely not json")
        broker.send("in", {"id": "after", "do": "ack"})
        props, body = broker.get("in.dead")
        assert body == b"\x00 definitely not json"
        assert props.headers[DEAD_REASON_HEADER].startswith("decode failure")
        assert json.loads(broker.get("out")[1])["id"] == "after"


def test_always_failing_handler_is_retried_with_growing_delays_then_dead_lettered(config: Config, broker: Broker) -> None:
    worker = ScriptedWorker()
    # A 1 s base: delays of 1, then 2, then 2-4 s, each its own delay queue.
    config = attrs.evolve(config, rabbitmq=attrs.evolve(config.rabbitmq, retry_base_seconds=1.0))
    with RunningWorker(worker, config):
        broker.send("in", {"id": "doomed", "do": "fail"})
        props, _ = broker.get("in.dead", timeout=30)
        assert broker.count("out") == 0
    times = [t for call_id, t in worker.calls if call_id == "doomed"]
    assert len(times) == 4  # exactly rabbitmq.delivery_limit attempts
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.1 and gaps[-1] > gaps[0], gaps
    assert "gave up after 4 attempts" in props.headers[DEAD_REASON_HEADER]
    assert props.headers[ATTEMPT_HEADER] == 4


def test_handler_failing_twice_then_succeeding_completes(config: Config, broker: Broker) -> None:
    worker = ScriptedWorker()
    with RunningWorker(worker, config):
        broker.send("in", {"id": "flaky", "do": "fail-twice"})
        _, body = broker.get("out", timeout=20)
        assert json.loads(body)["id"] == "flaky"
        # the worker is still alive and consuming after its exceptions
        broker.send("in", {"id": "next", "do": "ack"})
        assert json.loads(broker.get("out")[1])["id"] == "next"
    assert [c for c, _ in worker.calls].count("flaky") == 3
    assert list(drain(broker, "in.dead")) == []


def test_long_running_worker_applies_actions_from_its_thread(config: Config, broker: Broker) -> None:
    with RunningWorker(ScriptedWorker(long_running=True), config) as running:
        for n in range(5):
            broker.send("in", {"id": f"t{n}", "do": "ack"})
        got = {json.loads(broker.get("out")[1])["id"] for _ in range(5)}
        broker.send("in", {"id": "bad", "do": "dump"})
        broker.get("in.dead")
        time.sleep(0.3)
        assert running.runner.in_flight == 0  # finished jobs are forgotten, not kept
    assert got == {f"t{n}" for n in range(5)}


@pytest.mark.parametrize("long_running", [False, True])
def test_log_lines_carry_worker_queue_tag_and_job_context(
    config: Config, broker: Broker, capsys: pytest.CaptureFixture[str], long_running: bool
) -> None:
    configure_logging(json_lines=True)
    try:
        with RunningWorker(ScriptedWorker(long_running=long_running), config):
            broker.send("in", {"id": "ctx-1", "do": "dump"})
            broker.get("in.dead")
    finally:
        configure_logging()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [dead] = [line for line in lines if line["event"] == "dead-lettered"]
    assert dead["worker"] == "scripted" and dead["identity"] == "test-node"
    assert dead["queue"] == "in" and isinstance(dead["delivery_tag"], int)
    assert dead["request_id"] == "ctx-1" and dead["reason"] == "told to dump"


def test_a_shorter_retry_is_not_held_behind_a_longer_one(config: Config, broker: Broker) -> None:
    """Each delay queue has one delay: a 4–5 s retry queued after a 7–8 s one comes back first."""
    with RunningWorker(ScriptedWorker(), config):
        broker.send("in", {"id": "long", "do": "retry-once", "after": 7})
        time.sleep(0.3)  # queued behind "long" if the two shared a delay queue
        broker.send("in", {"id": "short", "do": "retry-once", "after": 4.2})
        sent = time.time()
        first = json.loads(broker.get("out", timeout=20)[1])
        second = json.loads(broker.get("out", timeout=20)[1])
    assert (first["id"], second["id"]) == ("short", "long")
    assert first["at"] - sent < 6.6  # its own delay level (6 s), not the long one's
