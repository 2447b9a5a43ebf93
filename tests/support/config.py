"""The standard test configuration, as the JSON a config file would hold."""

from __future__ import annotations

from typing import Any

from tickborg.config import RabbitMQConfig


def base_config_data(rabbitmq: RabbitMQConfig | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "identity": "test-node",
        "bot_login": "tickbot[bot]",
        "repos": ["tick-org/monorepo"],
        "trusted_users": ["alice"],
        "systems": {"primary": ["x86_64-linux"], "all": ["x86_64-linux", "aarch64-linux"]},
        "projects": [
            {"name": "libfoo", "path": "libfoo", "build_system": "cmake"},
            {"name": "app", "path": "app", "build_system": "custom", "command": "./build.sh"},
        ],
        "push_branches": ["main"],
        "rabbitmq": {"host": "127.0.0.1", "password": "guest"},
    }
    if rabbitmq is not None:
        nodes = {"hosts": [str(node) for node in rabbitmq.hosts]} if rabbitmq.hosts else {}
        data["rabbitmq"] = {
            **(nodes or {"host": rabbitmq.host, "port": rabbitmq.port}),
            "virtualhost": rabbitmq.virtualhost,
            "username": rabbitmq.username,
            "password": rabbitmq.password.value,
            "heartbeat_seconds": rabbitmq.heartbeat_seconds,
            "retry_base_seconds": rabbitmq.retry_base_seconds,
            "retry_cap_seconds": rabbitmq.retry_cap_seconds,
            "shutdown_grace_seconds": rabbitmq.shutdown_grace_seconds,
            "legacy_queues": rabbitmq.legacy_queues,
            "delivery_limit": rabbitmq.delivery_limit,
        }
    data.update(overrides)
    return data
