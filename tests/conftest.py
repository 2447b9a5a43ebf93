"""Fixtures shared by every test directory: brokers, configs, paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from support import rabbit
from support.config import base_config_data
from tickborg.config import Config, RabbitMQConfig, parse_config
from tickborg.logsetup import configure_logging


def pytest_sessionstart(session: pytest.Session) -> None:
    # Library code logs through structlog; give it the processes' set-up (stderr).
    configure_logging()


# Fixtures that reach a broker; a test using one (directly or through another
# fixture) carries the matching marker, so `-m "not broker"` runs without one.
BROKER_FIXTURES = {"shared_broker": "broker", "private_node": "private_broker", "private_cluster": "private_broker"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in BROKER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def shared_broker() -> None:
    rabbit.check_shared_broker()


@pytest.fixture
def vhost(shared_broker: None) -> Iterator[str]:
    """A fresh vhost on the machine's RabbitMQ, deleted afterwards."""
    name = rabbit.create_vhost()
    yield name
    rabbit.delete_vhost(name)


@pytest.fixture
def rabbitmq_config(vhost: str) -> RabbitMQConfig:
    return rabbit.rabbitmq_settings(rabbit.SHARED_HOST, rabbit.SHARED_PORT, vhost)


@pytest.fixture
def private_node(tmp_path: Path) -> Iterator[rabbit.PrivateNode]:
    """A RabbitMQ node of this test's own, which the test may stop and restart."""
    node = rabbit.PrivateNode(tmp_path / "rabbitmq")
    node.start()
    yield node
    node.stop()


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[rabbit.PrivateCluster]:
    """Three private nodes joined into a cluster, any of which the test may lose."""
    cluster = rabbit.PrivateCluster(tmp_path / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def make_config() -> Callable[..., Config]:
    """Build a Config from the standard test data plus overrides."""

    def make(rabbitmq: RabbitMQConfig | None = None, **overrides: Any) -> Config:
        return parse_config(base_config_data(rabbitmq, **overrides))

    return make
