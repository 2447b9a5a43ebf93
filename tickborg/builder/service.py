"""The builder's connections: the queues it consumes, the log publisher beside the runtime."""

from __future__ import annotations

import time

from tickborg.builder.worker import CONFIRM_TIMEOUT_SECONDS, LOG_WINDOW
from tickborg.config import BuilderConfig, Config
from tickborg.publisher import Publisher
from tickborg.topology import (
    BUILD_LOGS,
    BUILD_RESULTS_QUEUE,
    LOGS,
    build_queue,
    build_topology,
)

# Queues the builder publishes to (through exchanges), declared so nothing is published into the void.
OUTPUTS = (BUILD_LOGS, BUILD_RESULTS_QUEUE)


def input_queues(config: Config) -> list[str]:
    settings: BuilderConfig = config.require("builder")
    return [build_queue(system) for system in settings.systems]


def log_publisher(config: Config, name: str) -> Publisher:
    """The confirming publisher that streams build logs, on a connection of its own (not started).

    Each system's queue runs one job at a time, each with its own window.
    """
    systems = len(input_queues(config))
    settings: BuilderConfig = config.require("builder")
    return Publisher(
        config.rabbitmq,
        build_topology(config).select(OUTPUTS),
        LOGS,
        name=f"tickborg {name} {config.identity} logs",
        max_unconfirmed=LOG_WINDOW[settings.log_messages] * systems,
        confirm_overdue=CONFIRM_TIMEOUT_SECONDS,
    )


def wait_ready(publisher: Publisher, timeout: float) -> bool:
    """Wait until the publisher's connection is up: a job taken before would only be retried."""
    deadline = time.monotonic() + timeout
    while not publisher.ready:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
