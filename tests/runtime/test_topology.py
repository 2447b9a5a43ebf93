"""`tickborg topology` declares SPEC §2 on a real broker, and routes every repo name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from support.config import base_config_data
from support.rabbit import ctl
from support.runtime import Broker
from tickborg.cli import main as tickborg
from tickborg.config import Config, RabbitMQConfig, parse_config
from tickborg.topology import GITHUB_EVENTS, build_topology


def run_topology(tmp_path: Path, rabbitmq: RabbitMQConfig, **overrides: Any) -> Config:
    data = base_config_data(rabbitmq, **overrides)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert tickborg(["topology", "--config", str(path)]) == 0
    return parse_config(data)


def listing(what: str, vhost: str, *columns: str) -> list[dict[str, Any]]:
    return json.loads(ctl(what, "-p", vhost, "--formatter", "json", *columns))


def test_every_exchange_queue_and_binding_exists(tmp_path: Path, rabbitmq_config: RabbitMQConfig) -> None:
    config = run_topology(tmp_path, rabbitmq_config)
    expected = build_topology(config)
    vhost = rabbitmq_config.virtualhost

    exchanges = {e["name"]: e for e in listing("list_exchanges", vhost, "name", "type", "durable")}
    for exchange in expected.exchanges:
        assert exchanges[exchange.name]["type"] == exchange.type and exchanges[exchange.name]["durable"]

    queues = {q["name"]: q for q in listing("list_queues", vhost, "name", "type", "durable", "arguments")}
    assert set(queues) == {q.name for q in expected.queues}
    for queue in expected.queues:
        assert queues[queue.name]["durable"]
        assert _arguments(queues[queue.name]["arguments"]) == queue.arguments
    # Every queue, dead-letter and delay queues too, so a cluster keeps them all on its surviving nodes.
    assert {queue["type"] for queue in queues.values()} == {"quorum"}

    bindings = {
        (b["source_name"], b["destination_name"], b["routing_key"])
        for b in listing("list_bindings", vhost, "source_name", "destination_name", "routing_key")
    }
    for binding in expected.bindings:
        assert (binding.exchange, binding.queue, binding.routing_key) in bindings
    assert all("*" not in key for _, _, key in bindings)


def _arguments(value: Any) -> dict[str, Any]:
    # rabbitmqctl prints arguments as [name, type, value] triples.
    return {name: argument for name, _, argument in value}


@pytest.mark.parametrize(
    ("routing_key", "queue"),
    [
        ("pull_request.acme/site.github.io", "mass-rebuild-check-inputs"),
        ("pull_request.tick-org/monorepo", "mass-rebuild-check-inputs"),
        ("issue_comment.acme/site.github.io", "build-inputs"),
        ("push.a.b/c.d.e", "push-build-inputs"),
        ("check_run.acme/site.github.io", "check-run-inputs"),
        ("check_suite.a.b/c.d.e", "check-run-inputs"),
        ("unknown.acme/site.github.io", "github-events-unknown"),
        ("pull_request.-", "mass-rebuild-check-inputs"),
    ],
)
def test_repository_names_with_dots_route(
    tmp_path: Path, rabbitmq_config: RabbitMQConfig, routing_key: str, queue: str
) -> None:
    run_topology(tmp_path, rabbitmq_config)
    broker = Broker(rabbitmq_config)
    try:
        broker.channel.basic_publish(GITHUB_EVENTS, routing_key, b"{}", mandatory=True)
        props, body = broker.get(queue, timeout=5)
        assert body == b"{}"
    finally:
        broker.close()


def test_legacy_mode_declares_classic_queues_without_arguments(
    tmp_path: Path, rabbitmq_config: RabbitMQConfig
) -> None:
    run_topology(tmp_path, attrs.evolve(rabbitmq_config, legacy_queues=True))
    queues = {q["name"]: q for q in listing("list_queues", rabbitmq_config.virtualhost, "name", "type", "arguments")}
    for name in ("mass-rebuild-check-inputs", "build-inputs", "push-build-inputs", "check-run-inputs", "mass-rebuild-check-jobs",
                 "build-inputs-x86_64-linux", "build-results", "build-logs", "stats-events"):
        assert queues[name]["type"] == "classic", name
        assert _arguments(queues[name]["arguments"]) == {}, name


def test_topology_print_needs_no_broker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config_data()))
    assert tickborg(["topology", "--config", str(path), "--print"]) == 0
    out = capsys.readouterr().out
    assert "binding github-events -> mass-rebuild-check-inputs 'pull_request.#'" in out


def test_a_queue_with_other_arguments_fails_clearly(
    tmp_path: Path, rabbitmq_config: RabbitMQConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = Broker(rabbitmq_config)
    broker.channel.queue_declare("build-inputs", durable=True)  # classic, as a legacy fleet has it
    broker.close()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config_data(rabbitmq_config)))
    assert tickborg(["topology", "--config", str(path)]) == 1
    assert "rabbitmq.legacy_queues must match" in capsys.readouterr().err
