"""An in-order worker with a large prefetch acks in batches, and still settles each delivery exactly once.

Against the real broker, with a worker that acks without publishing (as the
log collector does), so only the batching itself sends its acks: every
delivery is acked while the worker keeps running, mixed verdicts never make
the broker close the channel for an unknown or repeated delivery tag, a stop
hands nothing finished back, and the acks held when a publish costs the
channel were sent before it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import attrs
import pytest

from support import rabbit
from support.process import wait_until
from support.runtime import Broker, RunningWorker, drain, runtime_topology
from support.workers import ScriptedWorker
from tickborg.broker import declare
from tickborg.config import Config, RabbitMQConfig
from tickborg.runtime.actions import Action, Publish

PREFETCH = 20


class QuietWorker(ScriptedWorker):
    """The scripted worker without its `out` publishes: its Acks stand alone, like the collector's."""

    name = "quiet"

    def handle(self, job: dict[str, Any]) -> list[Action]:
        actions = super().handle(job)
        return actions if job["do"] == "publish-to" else [a for a in actions if not isinstance(a, Publish)]

    def runs(self, delivery_id: str) -> int:
        with self.lock:
            return sum(1 for call_id, _ in self.calls if call_id == delivery_id)


@pytest.fixture(params=[False, True], ids=["quorum", "legacy"])
def config(request: pytest.FixtureRequest, rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> Config:
    return make_config(attrs.evolve(rabbitmq_config, legacy_queues=request.param, delivery_limit=3))


def settled(broker: Broker, config: Config) -> bool:
    return broker.count("in") == 0 and rabbit.unacked(config.rabbitmq.virtualhost) == 0


def test_every_delivery_is_acked_while_the_worker_runs(config: Config) -> None:
    worker = QuietWorker()
    with Broker(config.rabbitmq) as broker:
        # Queued first, so they arrive in full prefetch windows; 101 is no whole number of batches.
        declare(broker.channel, runtime_topology(config))
        for n in range(101):
            broker.send("in", {"id": f"m{n}", "do": "ack"})
        running = RunningWorker(worker, config, prefetch=PREFETCH)
        with running:
            wait_until(lambda: len(worker.calls) == 101, timeout=60)
            # Nothing waits for more deliveries or for a stop to be acked.
            wait_until(lambda: settled(broker, config), timeout=30)
            assert running.runner.reconnects == 0
    assert sorted(call for call, _ in worker.calls) == sorted(f"m{n}" for n in range(101))


def test_mixed_verdicts_settle_each_delivery_once(config: Config) -> None:
    """Retries and dead letters between batched acks: a wrong `multiple` ack would
    make the broker close the channel (PRECONDITION_FAILED), i.e. a reconnect."""
    worker = QuietWorker()
    scripts = {f"m{n}": "dump" if n % 7 == 3 else "fail-twice" if n % 5 == 1 else "ack" for n in range(60)}
    with Broker(config.rabbitmq) as broker, RunningWorker(worker, config, prefetch=PREFETCH) as running:
        for delivery_id, do in scripts.items():
            broker.send("in", {"id": delivery_id, "do": do})
        runs = {delivery_id: 3 if do == "fail-twice" else 1 for delivery_id, do in scripts.items()}
        wait_until(lambda: all(worker.runs(i) == n for i, n in runs.items()), timeout=60)
        wait_until(lambda: settled(broker, config), timeout=30)
        dead = sorted(json.loads(body)["id"] for body in drain(broker, "in.dead"))
        assert running.runner.reconnects == 0
    assert dead == sorted(i for i, do in scripts.items() if do == "dump")
    assert all(worker.runs(i) == n for i, n in runs.items())


def test_a_stop_hands_no_finished_delivery_back(config: Config) -> None:
    worker = QuietWorker()
    with Broker(config.rabbitmq) as broker:
        with RunningWorker(worker, config, prefetch=PREFETCH):
            for n in range(50):
                broker.send("in", {"id": f"m{n}", "do": "ack"})
            wait_until(lambda: len(worker.calls) == 50, timeout=60)
        assert broker.count("in") == 0
    assert len(worker.calls) == 50


def test_acks_held_when_a_publish_costs_the_channel_were_sent(config: Config) -> None:
    """The channel goes with a publish to a missing exchange; the deliveries
    settled before it on the channel are not redelivered and run again."""
    worker = QuietWorker()
    with Broker(config.rabbitmq) as broker:
        # Queued before the worker starts, so they arrive together and their acks wait for the batch.
        declare(broker.channel, runtime_topology(config))
        for n in range(10):
            broker.send("in", {"id": f"m{n}", "do": "ack"})
        broker.send("in", {"id": "poison", "do": "publish-to", "exchange": "no-such-exchange"})
        running = RunningWorker(worker, config, prefetch=50)
        with running:
            _, body = broker.get("in.dead", timeout=30)
            wait_until(lambda: settled(broker, config), timeout=30)
            assert running.runner.lost_channels >= 1 and running.runner.reconnects == 0  # the channel did go, alone
    assert json.loads(body)["id"] == "poison"
    assert [worker.runs(f"m{n}") for n in range(10)] == [1] * 10
