"""Nothing is lost: kills, broker restarts, long jobs and SIGTERM, on real brokers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import attrs
import pytest

from support.config import base_config_data
from support.paths import REPO
from support.rabbit import PrivateNode
from support.runtime import Broker, RunningWorker, runtime_topology
from support.workers import ScriptedWorker
from tickborg.broker import declare
from tickborg.config import Config, RabbitMQConfig, Secret


def start_worker_process(config: Config, tmp_path: Path, kind: str) -> subprocess.Popen[bytes]:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(base_config_data(config.rabbitmq)))
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{REPO}"}
    return subprocess.Popen(
        [sys.executable, "-m", "support.worker_process", str(path), kind],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"{kind}.log", "ab"),
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def unacked(broker: Broker, queue: str) -> bool:
    """True once the queue's only message has been handed to a consumer."""
    return broker.count(queue) == 0


@pytest.fixture
def config(rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config]) -> Config:
    return make_config(rabbitmq_config)


@pytest.fixture
def broker(config: Config) -> Iterator[Broker]:
    b = Broker(config.rabbitmq)
    declare(b.channel, runtime_topology(config))
    yield b
    b.close()


def test_sigkill_after_publishing_before_ack_redelivers(config: Config, broker: Broker, tmp_path: Path) -> None:
    process = start_worker_process(config, tmp_path, "streaming")
    try:
        broker.send("in", {"id": "k1", "do": "publish-then-sleep", "seconds": 60})
        _, body = broker.get("out", timeout=30)  # published and confirmed, not yet acked
        assert json.loads(body)["id"] == "k1"
        process.kill()
        process.wait(10)
    finally:
        process.kill()
    wait_until(lambda: broker.count("in") == 1)
    with RunningWorker(ScriptedWorker(), config):
        _, body = broker.get("out")
    assert json.loads(body)["id"] == "k1"
    assert broker.count("in") == 0


def test_job_longer_than_heartbeats_keeps_its_connection(config: Config, broker: Broker) -> None:
    fast_heartbeat = attrs.evolve(config, rabbitmq=attrs.evolve(config.rabbitmq, heartbeat_seconds=1))
    with RunningWorker(ScriptedWorker(long_running=True), fast_heartbeat) as running:
        broker.send("in", {"id": "long", "do": "sleep", "seconds": 8})
        _, body = broker.get("out", timeout=30)
        assert json.loads(body)["id"] == "long"
        assert running.runner.reconnects == 0
    assert broker.count("in") == 0


def test_without_the_job_thread_the_broker_would_drop_the_connection(config: Config, broker: Broker) -> None:
    """The control for the test above: an inline 8 s job misses its heartbeats."""
    fast_heartbeat = attrs.evolve(config, rabbitmq=attrs.evolve(config.rabbitmq, heartbeat_seconds=1))
    with RunningWorker(ScriptedWorker(long_running=False), fast_heartbeat) as running:
        broker.send("in", {"id": "inline", "do": "sleep", "seconds": 8})
        wait_until(lambda: running.runner.reconnects >= 1, timeout=30)


def test_sigterm_during_a_job_finishes_it_and_exits_0(config: Config, broker: Broker, tmp_path: Path) -> None:
    process = start_worker_process(config, tmp_path, "scripted-long")
    broker.send("in", {"id": "t1", "do": "sleep", "seconds": 3})
    wait_until(lambda: unacked(broker, "in"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    _, body = broker.get("out", timeout=1)
    assert json.loads(body)["id"] == "t1"
    assert broker.count("in") == 0


def test_sigterm_during_a_requeueing_job_hands_it_back_and_exits_0(config: Config, broker: Broker, tmp_path: Path) -> None:
    process = start_worker_process(config, tmp_path, "scripted-requeue")
    broker.send("in", {"id": "t2", "do": "sleep", "seconds": 30})
    wait_until(lambda: unacked(broker, "in"))
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert time.monotonic() - started < 10
    wait_until(lambda: broker.count("in") == 1)
    assert broker.count("out") == 0


def test_messages_survive_a_broker_restart_and_the_worker_reconnects(
    private_node: PrivateNode, make_config: Callable[..., Config]
) -> None:
    rabbit = RabbitMQConfig(
        host="127.0.0.1", port=private_node.port, password=Secret("guest"), retry_base_seconds=0.2, heartbeat_seconds=5
    )
    config = make_config(rabbit)
    broker = Broker(rabbit)
    declare(broker.channel, runtime_topology(config))
    for n in range(3):
        broker.send("in", {"id": f"before-{n}", "do": "ack"})
    broker.close()
    private_node.restart()

    with RunningWorker(ScriptedWorker(), config) as running:
        broker = Broker(rabbit)
        got = {json.loads(broker.get("out")[1])["id"] for _ in range(3)}
        assert got == {"before-0", "before-1", "before-2"}
        broker.close()

        private_node.restart()
        wait_until(lambda: running.runner.reconnects >= 1 and running.runner.connected.is_set(), timeout=60)
        broker = Broker(rabbit)
        broker.send("in", {"id": "after", "do": "ack"})
        assert json.loads(broker.get("out")[1])["id"] == "after"
        broker.close()


def test_a_cancelled_consumer_reconnects_and_redeclares(config: Config, broker: Broker) -> None:
    """Deleting the queue under a worker cancels its consumer; it must not go quiet."""
    with RunningWorker(ScriptedWorker(), config) as running:
        broker.channel.queue_delete("in")
        wait_until(lambda: running.runner.reconnects >= 1 and running.runner.connected.is_set())
        broker.send("in", {"id": "after-delete", "do": "ack"})
        assert json.loads(broker.get("out")[1])["id"] == "after-delete"


def test_a_queue_declared_with_other_arguments_stops_the_worker_with_exit_1(
    config: Config, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    broker.channel.queue_delete("in")
    broker.channel.queue_declare("in", durable=True)  # classic, where the worker wants quorum
    running = RunningWorker(ScriptedWorker(), config)
    assert running.runner.run() == 1
    assert "cannot declare the topology" in capsys.readouterr().err
