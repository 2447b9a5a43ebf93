"""`tickborg stats` on the real broker: EventMessages in, `/metrics` out, garbage dead-lettered."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.config import base_config_data
from support.metrics import Samples, scrape, stats_consuming, value
from support.process import tickborg_process, wait_until
from support.rabbit import free_port
from support.runtime import Broker

from tickborg.broker import properties
from tickborg.config import RabbitMQConfig, load_config
from tickborg.messages import Event
from tickborg.stats.emitter import emitting
from tickborg.topology import STATS, STATS_EVENTS, dead_queue


def _write_config(tmp_path: Path, rabbitmq: RabbitMQConfig, **overrides: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config_data(rabbitmq, **overrides)))
    return path


class Stats:
    def __init__(self, url: str, broker: Broker, config_path: Path) -> None:
        self.url = url
        self.broker = broker
        self.config_path = config_path

    def publish(self, body: bytes) -> None:
        self.broker.channel.basic_publish(STATS, "", body, properties(), mandatory=True)

    def metrics(self) -> Samples:
        return scrape(f"{self.url}/metrics")


@pytest.fixture
def stats(tmp_path: Path, rabbitmq_config: RabbitMQConfig) -> Iterator[Stats]:
    port = free_port()
    config_path = _write_config(tmp_path, rabbitmq_config, stats={"listen": f"127.0.0.1:{port}"})
    with Broker(rabbitmq_config) as broker, tickborg_process("stats", config_path, tmp_path / "stats.log"):
        wait_until(lambda: stats_consuming(broker), timeout=30)
        yield Stats(f"http://127.0.0.1:{port}", broker, config_path)


def test_the_fleet_s_events_are_served_as_metrics(stats: Stats) -> None:
    config = load_config(stats.config_path)
    with emitting(config, "builder") as emit, emitting(config, "mass-rebuilder") as other:
        wait_until(lambda: emit.connected and other.connected)
        for event in (Event.of("job-received"), Event.of("job-decode-success"), Event.of("build-started", "x86_64-linux")):
            emit(event)
        emit(Event.of("build-finished", "x86_64-linux", "Success"))
        other(Event.of("job-received"))
        other(Event.of("evaluation-duration", "main", 3))
        other(Event.of("evaluation-duration-count", "main"))
    # A Rust worker's message, one-field variants as bare values.
    stats.publish(b'{"sender": "rust-node", "events": ["job-received", {"github-api-error": "InternalError"}]}')
    builder, rebuilder = "test-node/builder", "test-node/mass-rebuilder"
    wait_until(lambda: value(stats.metrics(), "tickborg_github_api_errors_total", sender="rust-node", variant="InternalError") == 1)
    got = stats.metrics()
    assert value(got, "tickborg_jobs_received_total", sender=builder) == 1
    assert value(got, "tickborg_jobs_received_total", sender=rebuilder) == 1
    assert value(got, "tickborg_jobs_received_total", sender="rust-node") == 1
    assert value(got, "tickborg_jobs_decoded_total", sender=builder, result="success") == 1
    assert value(got, "tickborg_builds_started_total", sender=builder, system="x86_64-linux") == 1
    assert value(got, "tickborg_builds_finished_total", sender=builder, system="x86_64-linux", status="Success") == 1
    assert value(got, "tickborg_evaluations_total", sender=rebuilder, branch="main") == 1
    assert value(got, "tickborg_evaluation_duration_seconds_count", sender=rebuilder, branch="main") == 1
    assert value(got, "tickborg_evaluation_duration_seconds_sum", sender=rebuilder, branch="main") == 3
    assert value(got, "process_cpu_seconds_total") > 0  # its own process metrics


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"sender": "s"}', b'{"sender": "s", "events": ["build-started"]}'],
)
def test_an_undecodable_message_is_dead_lettered(stats: Stats, body: bytes) -> None:
    stats.publish(body)
    _, dead = stats.broker.get(dead_queue(STATS_EVENTS), timeout=20)
    assert dead == body
    assert stats.broker.count(STATS_EVENTS) == 0
    assert not any(name == "tickborg_events_total" for name, _ in stats.metrics())


def test_only_metrics_is_served(stats: Stats) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stats.url}/", timeout=10)
    assert refused.value.code == 404
    with urllib.request.urlopen(f"{stats.url}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")


def _run(config_path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tickborg.cli", "stats", "--config", str(config_path)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


def test_without_its_section_the_process_exits_2(tmp_path: Path) -> None:
    done = _run(_write_config(tmp_path, RabbitMQConfig()))
    assert done.returncode == 2
    assert "stats: missing" in done.stderr


def test_a_taken_address_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(_write_config(tmp_path, RabbitMQConfig(), stats={"listen": f"127.0.0.1:{port}"}))
    assert done.returncode == 1
    assert "cannot listen" in done.stderr
