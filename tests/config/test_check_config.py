"""`tickborg check-config`: every invalid input exits 2 with one line naming the key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from support.config import base_config_data
from tickborg.cli import COMMANDS, resolve
from tickborg.config import BrokerNode, ConfigError, parse_config


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(data))
        return path

    return write


def check(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tickborg", "check-config", "--config", str(path), *extra], capture_output=True, text=True, timeout=60
    )


def without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def test_valid_config_exits_0_with_a_summary(write_config: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    secret = tmp_path / "webhook"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    data = base_config_data(
        github_webhook_receiver={"listen": "127.0.0.1:9899", "webhook_secret_file": str(secret)},
        builder={"systems": ["x86_64-linux"]},
        checkout={"root": str(tmp_path / "checkout")},
    )
    done = check(write_config(data), "--process", "builder")
    assert done.returncode == 0, done.stderr
    assert "projects: libfoo (cmake), app (custom)" in done.stdout
    assert "s3cret" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: without(d, "rabbitmq"), "rabbitmq: missing"),
        (lambda d: without(d, "identity"), "identity: missing"),
        (lambda d: {**d, "rabbitmq": {"port": "5672"}}, "rabbitmq.port: expected an integer"),
        (lambda d: {**d, "repos": "tick-org/monorepo"}, "repos: expected a list of strings"),
        (lambda d: {**d, "rabbitmq": {"legacy_queues": "yes"}}, "rabbitmq.legacy_queues: expected true or false"),
        (lambda d: {**d, "rabbitmq": {"hosts": ["rabbit-1"]}}, 'rabbitmq.hosts[0]: expected host:port, got "rabbit-1"'),
        (
            lambda d: {**d, "projects": [{"name": "x", "path": "x", "build_system": "bazel"}]},
            'projects[0].build_system: unknown build system "bazel"',
        ),
        (
            lambda d: {**d, "projects": [{"name": "x", "path": "x", "build_system": "make"}] * 2},
            'projects[1].name: duplicate project "x"',
        ),
        (lambda d: {**d, "systems": {"primary": ["riscv64-linux"]}}, 'systems.primary: unknown system "riscv64-linux"'),
        (
            lambda d: {**d, "rabbitmq": {"password_file": "/nonexistent/secret"}},
            "rabbitmq.password_file: cannot read secret file '/nonexistent/secret'",
        ),
        (
            lambda d: {**d, "logapi": {"listen": "localhost"}},
            'logapi.listen: expected host:port, got "localhost"',
        ),
        (
            lambda d: {**d, "stats": {"listen": "example.org:9090"}},
            'stats.listen: "example.org" is not an IP address',
        ),
        (lambda d: {**d, "github_app": {"app_id": 1}}, "github_app.private_key_file: missing"),
        (lambda d: {**d, "default_push_projects": ["nope"]}, 'default_push_projects: unknown project "nope"'),
        (
            lambda d: {**d, "checkout": {"root": "/tmp/c", "git_timeout_seconds": 0}},
            "checkout.git_timeout_seconds: must be greater than 0",
        ),
        (
            lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "sandbox": "docker"}},
            'builder.sandbox: unknown sandbox "docker" (known: bubblewrap, none)',
        ),
        (lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "sandbox": False}}, "builder.sandbox: expected a string"),
        (
            lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "log_messages": "line"}},
            'builder.log_messages: unknown log_messages "line" (known: chunks, lines)',
        ),
        (
            lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "announce_start": "yes"}},
            "builder.announce_start: expected true or false",
        ),
        (lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "kill_grace_seconds": -1}}, "builder.kill_grace_seconds: must be at least 0"),
        (
            lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "limits": {"nice": 20}}},
            "builder.limits.nice: must be at most 19, got 20",
        ),
        (
            lambda d: {**d, "builder": {"systems": ["x86_64-linux"], "limits": {"nice": -5}}},
            "builder.limits.nice: must be at least 0",
        ),
    ],
)
def test_invalid_config_exits_2_naming_the_key(
    write_config: Callable[[dict[str, Any]], Path], mutate: Callable[[dict[str, Any]], dict[str, Any]], key: str
) -> None:
    done = check(write_config(mutate(base_config_data())))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_rabbitmq_hosts_name_a_cluster_tried_in_order() -> None:
    rabbitmq = parse_config(
        {**base_config_data(), "rabbitmq": {"hosts": ["rabbit-1:5672", "10.0.0.2:5673", "[::1]:5674"]}}
    ).rabbitmq
    assert [str(node) for node in rabbitmq.nodes] == ["rabbit-1:5672", "10.0.0.2:5673", "::1:5674"]
    assert (rabbitmq.host, rabbitmq.port) == ("rabbit-1", 5672)
    assert parse_config(base_config_data()).rabbitmq.nodes == (BrokerNode("127.0.0.1", 5672),)


@pytest.mark.parametrize(
    ("rabbitmq", "key", "problem"),
    [
        ({"hosts": "rabbit-1:5672"}, "rabbitmq.hosts", "expected a list of strings"),
        ({"hosts": []}, "rabbitmq.hosts", "must name at least one node"),
        ({"hosts": ["a:1", "b:x"]}, "rabbitmq.hosts[1]", "expected host:port"),
        ({"hosts": ["a:1", "a:1"]}, "rabbitmq.hosts", "names a node twice"),
        ({"hosts": ["a:1"], "port": 5672}, "rabbitmq.hosts", "either hosts or host and port"),
    ],
)
def test_bad_rabbitmq_hosts_are_refused_naming_the_key(rabbitmq: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({**base_config_data(), "rabbitmq": rabbitmq})
    assert refused.value.key == key and problem in str(refused.value)


def test_builder_defaults_and_settings() -> None:
    defaults = parse_config(base_config_data(builder={"systems": ["x86_64-linux"]})).builder
    assert defaults is not None and (defaults.sandbox, defaults.announce_start) == ("bubblewrap", True)
    chosen = parse_config(
        base_config_data(builder={"systems": ["x86_64-linux"], "sandbox": "none", "announce_start": False})
    ).builder
    assert chosen is not None and (chosen.sandbox, chosen.announce_start) == ("none", False)


def test_a_section_the_process_needs_is_required(write_config: Callable[[dict[str, Any]], Path]) -> None:
    done = check(write_config(base_config_data()), "--process", "github-webhook-receiver")
    assert done.returncode == 2
    assert done.stderr.strip() == "tickborg: configuration error: github_webhook_receiver: missing (this process needs it)"


def test_the_gap_wait_is_checked(write_config: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    storage = {"path": str(tmp_path / "logs")}
    parsed = parse_config(base_config_data(log_storage=storage)).log_storage
    assert parsed is not None and parsed.gap_wait_seconds == 30.0
    done = check(write_config(base_config_data(log_storage={**storage, "gap_wait_seconds": -1})))
    assert done.returncode == 2
    assert "log_storage.gap_wait_seconds: must not be negative" in done.stderr


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"confirm_timeout_seconds": "5"}, "github_webhook_receiver.confirm_timeout_seconds: expected a number"),
        ({"confirm_timeout_seconds": 0}, "github_webhook_receiver.confirm_timeout_seconds: must be greater than 0"),
        ({"socket_timeout_seconds": -1}, "github_webhook_receiver.socket_timeout_seconds: must not be negative"),
        ({"request_deadline_seconds": 0}, "github_webhook_receiver.request_deadline_seconds: must be greater than 0"),
        ({"max_connections": 0}, "github_webhook_receiver.max_connections: must be at least 1"),
        ({"max_connections": 1.5}, "github_webhook_receiver.max_connections: expected an integer"),
        ({"max_unverified_body_bytes": 0}, "github_webhook_receiver.max_unverified_body_bytes: must be at least 1"),
        ({"max_unconfirmed_publishes": -3}, "github_webhook_receiver.max_unconfirmed_publishes: must be at least 1"),
    ],
)
def test_receiver_timeouts_are_checked(
    write_config: Callable[[dict[str, Any]], Path], tmp_path: Path, settings: dict[str, Any], problem: str
) -> None:
    secret = tmp_path / "webhook"
    secret.write_text("s3cret")
    secret.chmod(0o600)
    section = {"listen": "127.0.0.1:9899", "webhook_secret_file": str(secret)}
    valid = parse_config(
        base_config_data(github_webhook_receiver={**section, "socket_timeout_seconds": 2.5, "max_connections": 7})
    )
    assert valid.github_webhook_receiver is not None
    assert valid.github_webhook_receiver.confirm_timeout_seconds == 5.0  # the default
    assert valid.github_webhook_receiver.socket_timeout_seconds == 2.5
    assert valid.github_webhook_receiver.max_connections == 7
    done = check(write_config(base_config_data(github_webhook_receiver={**section, **settings})))
    assert done.returncode == 2 and problem in done.stderr, done.stderr


def test_unreadable_secret_file(write_config: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    secret = tmp_path / "app.pem"
    secret.mkdir()  # a directory cannot be read as a file, even by root
    done = check(write_config({**base_config_data(), "github_app": {"app_id": 1, "private_key_file": str(secret)}}))
    assert done.returncode == 2 and "github_app.private_key_file: cannot read secret file" in done.stderr


def test_not_json_and_missing_file(write_config: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    for path in (bad, tmp_path / "missing.json"):
        done = check(path)
        assert done.returncode == 2 and done.stderr.startswith("tickborg: configuration error: --config:")


def test_world_readable_secret_warns(write_config: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    secret = tmp_path / "rabbit"
    secret.write_text("pw")
    secret.chmod(0o644)
    done = check(write_config({**base_config_data(), "rabbitmq": {"password_file": str(secret)}}))
    assert done.returncode == 0
    assert "secret file readable by others" in done.stderr and "pw\n" not in done.stderr


def test_every_command_resolves_to_its_main() -> None:
    assert all(callable(resolve(name)) for name in COMMANDS)


def test_a_negative_hourly_write_budget_names_its_key(write_config: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("not read as a key here")
    app = {"app_id": 1, "private_key_file": str(key), "writes_per_hour": -1}
    done = check(write_config({**base_config_data(), "github_app": app}))
    assert done.returncode == 2 and "github_app.writes_per_hour: must be at least 0" in done.stderr, done.stderr
