"""Every delivery is settled exactly once, whatever its job, its publishes or the connection do.

Against the real broker: a streamed publish that fails, a publish that makes
the broker close the channel, a connection lost under running jobs, and a stop
while a finished job's verdict is still on its way to the connection thread.
Prefetch above 1 throughout, where a wrong ack would hit another job.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterator

import attrs
import pytest

from support import rabbit
from support.runtime import Broker, RunningWorker, drain
from support.workers import ScriptedWorker, StreamingWorker
from tickborg.config import Config, RabbitMQConfig, Secret
from tickborg.runtime.actions import Ack, Publish
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.runtime.worker import Notify, NotifyWorker
from tickborg.topology import Queue, Topology, failure_paths, work_queue

DELIVERY_LIMIT = 3


@pytest.fixture(params=[False, True], ids=["quorum", "legacy"])
def config(request: pytest.FixtureRequest, rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> Config:
    rabbitmq = attrs.evolve(rabbitmq_config, legacy_queues=request.param, delivery_limit=DELIVERY_LIMIT)
    return make_config(rabbitmq)


@pytest.fixture
def broker(config: Config) -> Iterator[Broker]:
    b = Broker(config.rabbitmq)
    yield b
    b.close()


def ids(broker: Broker, queue: str) -> list[str]:
    return [json.loads(body)["id"] for body in drain(broker, queue)]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("prefetch", [1, 2])
def test_a_failed_streamed_publish_settles_the_delivery_once(config: Config, broker: Broker, prefetch: int) -> None:
    """Unroutable first publish: the delivery is retried, the job's later publishes and Ack are dropped."""
    worker = StreamingWorker()
    with RunningWorker(worker, config, prefetch=prefetch) as running:
        broker.send("in", {"id": "bad", "do": "stream", "to": [["", "nowhere"], ["", "out"]]})
        broker.send("in", {"id": "good", "do": "stream", "seconds": 1})  # in flight beside it when prefetch is 2
        props, body = broker.get("in.dead", timeout=30)
        wait_for(lambda: worker.calls.count("good") >= 1 and broker.count("in") == 0, 10, "good done")
        time.sleep(0.5)
        reconnects = running.runner.reconnects
    assert json.loads(body)["id"] == "bad"
    assert f"gave up after {DELIVERY_LIMIT} attempts" in props.headers[DEAD_REASON_HEADER]
    assert "'nowhere'" in props.headers[DEAD_REASON_HEADER]
    assert reconnects == 0  # no double ack, so no PRECONDITION_FAILED closing the channel
    # "bad" never reached `out`: its publish after the failure came after its delivery was settled.
    assert sorted(ids(broker, "out")) == ["good"]
    assert worker.calls.count("bad") == DELIVERY_LIMIT and worker.calls.count("good") == 1


def full_exchange(broker: Broker) -> str:
    """An exchange whose only queue refuses every message: each publish to it is nacked."""
    broker.channel.exchange_declare("to-full", "fanout")
    broker.channel.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    broker.channel.queue_bind("full", "to-full")
    return "to-full"


REFUSALS = {
    # A missing exchange: the broker closes the channel (404).
    "closed": (lambda broker: "no-such-exchange", ["the broker closed the channel", "no-such-exchange"]),
    # A nack: the runtime closes the channel itself, as RabbitMQ may go on nacking on it.
    "nacked": (full_exchange, ["the broker nacked a publish"]),
}


@pytest.mark.parametrize("refusal", REFUSALS)
@pytest.mark.parametrize("long_running", [False, True], ids=["inline", "threaded"])
def test_a_publish_that_fails_the_channel_is_retried_then_dead_lettered(
    config: Config, broker: Broker, long_running: bool, refusal: str
) -> None:
    """A publish the broker refuses on the channel must not loop: it ends in in.dead."""
    exchange_for, reasons = REFUSALS[refusal]
    exchange = exchange_for(broker)
    worker = ScriptedWorker(long_running=long_running)
    started = time.monotonic()
    with RunningWorker(worker, config, prefetch=2) as running:
        broker.send("in", {"id": "poison", "do": "publish-to", "exchange": exchange})
        props, body = broker.get("in.dead", timeout=30)
        broker.send("in", {"id": "after", "do": "ack"})
        assert json.loads(broker.get("out")[1])["id"] == "after"  # still consuming
        reconnects = running.runner.reconnects
    calls = [call for call, _ in worker.calls if call == "poison"]
    assert json.loads(body)["id"] == "poison"
    reason = props.headers[DEAD_REASON_HEADER]
    assert all(part in reason for part in reasons), reason
    # Each run costs its redelivery as an attempt too: fewer runs than the limit, never a loop.
    assert 1 <= len(calls) <= DELIVERY_LIMIT and reconnects <= DELIVERY_LIMIT
    assert time.monotonic() - started < 20


def close_connections(vhost: str) -> None:
    rabbit.ctl("close_all_connections", "-p", vhost, "test: connection lost")


@pytest.mark.parametrize("prefetch", [1, 2])
def test_jobs_straddling_a_reconnect_are_cancelled_and_run_again(
    config: Config, rabbitmq_config: RabbitMQConfig, prefetch: int
) -> None:
    worker = StreamingWorker()
    with RunningWorker(worker, config, prefetch=prefetch) as running:
        with Broker(config.rabbitmq) as broker:
            for n in range(prefetch):
                broker.send("in", {"id": f"long{n}", "do": "stream", "seconds": 60})
        wait_for(lambda: len(worker.calls) == prefetch, 10, "jobs started")
        close_connections(rabbitmq_config.virtualhost)
        # The abandoned runs learn it at once (the builder kills its build then) ...
        wait_for(lambda: len(worker.cancelled) == prefetch, 5, "abandoned jobs cancelled")
        # ... and the redelivered copies run to the end on the new connection.
        wait_for(lambda: len(worker.calls) == 2 * prefetch, 15, "jobs redelivered")
        with Broker(config.rabbitmq) as broker:
            wait_for(lambda: broker.count("in") == 0, 10, "input settled")
            outputs = ids(broker, "out")
            assert list(drain(broker, "in.dead")) == []
        assert running.runner.reconnects == 1
    assert sorted(worker.cancelled) == [f"long{n}" for n in range(prefetch)]
    # Each job published once per run; the first runs' output is a harmless duplicate.
    assert sorted(outputs) == sorted(f"long{n}" for n in range(prefetch) for _ in range(2))


def test_simple_threaded_jobs_straddling_a_reconnect_complete(config: Config, rabbitmq_config: RabbitMQConfig) -> None:
    worker = ScriptedWorker(long_running=True)
    with RunningWorker(worker, config, prefetch=2) as running:
        with Broker(config.rabbitmq) as broker:
            for n in range(2):
                broker.send("in", {"id": f"slow{n}", "do": "sleep", "seconds": 2})
        wait_for(lambda: len(worker.calls) == 2, 10, "jobs started")
        close_connections(rabbitmq_config.virtualhost)
        with Broker(config.rabbitmq) as broker:
            wait_for(lambda: broker.count("out") == 2, 20, "redelivered jobs done")
            time.sleep(0.5)
            outputs = ids(broker, "out")
        assert running.runner.reconnects == 1 and running.runner.in_flight == 0
    # The first runs' results were dropped (their channel was gone); the second runs' count.
    assert sorted(outputs) == ["slow0", "slow1"]


def test_prefetch_two_simple_worker_settles_each_delivery_once(config: Config, broker: Broker) -> None:
    worker = ScriptedWorker()
    with RunningWorker(worker, config, prefetch=2) as running:
        for n in range(20):
            broker.send("in", {"id": f"m{n}", "do": "fail-twice" if n % 5 == 0 else "ack"})
        wait_for(lambda: broker.count("in") == 0 and len(worker.calls) == 28, 30, "all done")
        time.sleep(0.5)
        assert running.runner.reconnects == 0
    assert sorted(ids(broker, "out")) == sorted(f"m{n}" for n in range(20))


class GatedStreamer(NotifyWorker[bytes]):
    """Publishes when the test opens `publish`, hands over its Ack when it opens `finish`."""

    name = "gated"

    def __init__(self) -> None:
        self.publish = threading.Event()
        self.finish = threading.Event()
        self.acked = threading.Event()

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> bytes:
        return body

    def handle(self, job: bytes, notify: Notify) -> None:
        self.publish.wait(30)
        notify(Publish("", "out", job))
        self.finish.wait(30)
        notify(Ack())
        self.acked.set()


def test_a_stop_applies_verdicts_already_handed_over(private_node: rabbit.PrivateNode, make_config: Callable[..., Config]) -> None:
    """A finished job's Ack waiting for the connection thread is applied, not handed back to run again.

    A memory alarm on a private node holds the job's publish unconfirmed, so
    the connection thread is busy while the job hands over its Ack; the stop
    comes before the alarm clears. The worker hands unfinished jobs back at
    once (no grace), as the builder does.
    """
    rabbitmq = RabbitMQConfig(
        host="127.0.0.1", port=private_node.port, password=Secret("guest"), retry_base_seconds=0.2
    )
    config = make_config(rabbitmq)
    worker = GatedStreamer()
    with Broker(config.rabbitmq) as broker:
        running = RunningWorker(worker, config)
        with running:
            broker.send("in", {"id": "finished"})
            wait_for(lambda: running.runner.in_flight == 1, 10, "job started")
            private_node.ctl("set_vm_memory_high_watermark", "0")
            try:
                worker.publish.set()
                # The broker blocks the connection at its publish: the connection thread waits for the confirm.
                wait_for(lambda: "blocked" in private_node.ctl("list_connections", "state"), 10, "publish blocked")
                worker.finish.set()
                assert worker.acked.wait(10)
                running.runner.request_stop()
            finally:
                private_node.ctl("set_vm_memory_high_watermark", "0.4")
        assert broker.count("in") == 0, "a finished job was handed back to run again"
        assert [json.loads(body)["id"] for body in drain(broker, "out")] == ["finished"]


def two_queue_topology(config: Config) -> Topology:
    """Work queues `in` and `in2` (as a builder consumes one queue per system) and `out`."""
    rabbit = config.rabbitmq
    inbound = [work_queue(name, rabbit.legacy_queues, rabbit.delivery_limit) for name in ("in", "in2")]
    failures = failure_paths(inbound, rabbit.legacy_queues)
    return Topology(failures.exchanges, (*inbound, Queue("out", is_work_queue=False), *failures.queues), failures.bindings)


def test_a_lost_channel_of_one_queue_leaves_the_other_queues_jobs_running(config: Config, broker: Broker) -> None:
    """A nacked publish closes its consuming channel: only that queue's delivery goes back."""
    worker = StreamingWorker()
    with RunningWorker(worker, config, queues=("in", "in2"), topology=two_queue_topology(config)) as running:
        exchange = full_exchange(broker)
        broker.send("in", {"id": "long", "do": "stream", "seconds": 4})
        wait_for(lambda: worker.calls == ["long"], 10, "the long job started")
        broker.send("in2", {"id": "poison", "do": "stream", "to": [[exchange, "rk"]]})
        props, body = broker.get("in2.dead", timeout=40)
        wait_for(lambda: running.runner.in_flight == 0, 10, "the long job settled")
        reconnects, lost_channels = running.runner.reconnects, running.runner.lost_channels
    assert json.loads(body)["id"] == "poison"
    assert "the broker nacked a publish" in props.headers[DEAD_REASON_HEADER]
    # The other queue's job ran once, to its end, on the same connection.
    assert worker.cancelled == [] and worker.calls.count("long") == 1
    assert reconnects == 0 and lost_channels == DELIVERY_LIMIT - 1  # the last attempt is settled, not run
    assert ids(broker, "out") == ["long"]


def test_a_message_that_keeps_killing_its_consumer_ends_in_the_dead_letter_queue(
    config: Config, rabbitmq_config: RabbitMQConfig
) -> None:
    """Each run of it loses the connection: on a classic queue too (where the broker only
    says `redelivered`), its attempts grow until it is dead-lettered, not redelivered for ever."""
    worker = EndingWorker(long_running=True)
    with RunningWorker(worker, config) as running:
        with Broker(config.rabbitmq) as broker:
            broker.send("in", {"id": "killer", "do": "sleep", "seconds": 30})
        for run in range(1, DELIVERY_LIMIT + 1):
            wait_for(lambda: len(worker.calls) == run, 20, f"run {run}")
            close_connections(rabbitmq_config.virtualhost)
        with Broker(config.rabbitmq) as broker:
            props, body = broker.get("in.dead", timeout=20)
            time.sleep(1.0)
            assert broker.count("in") == 0
            # What the job began is ended, though the runtime decided the dead letter unrun.
            endings = [json.loads(b) for b in drain(broker, "out")]
        assert running.runner.reconnects == DELIVERY_LIMIT
    assert json.loads(body)["id"] == "killer"
    reason = props.headers[DEAD_REASON_HEADER]
    assert f"gave up after {DELIVERY_LIMIT} attempts" in reason and "redelivered unsettled" in reason
    assert len(worker.calls) == DELIVERY_LIMIT
    assert endings == [{"ended": "killer", "reason": reason}]


class EndingWorker(ScriptedWorker):
    """Publishes what ends a dead-lettered job to `out`, as the reporter's workers end runs."""

    def on_dead_letter(self, job: dict[str, Any], reason: str) -> list[Publish]:
        return [Publish("", "out", json.dumps({"ended": job["id"], "reason": reason}).encode())]
