"""What the fault tests do to a running fleet from outside, as an operator (or a
crash) would: signal a worker process, read what the broker holds for a queue,
and start a process with some settings of the fleet's config changed; and which
process consumes each work queue."""

from __future__ import annotations

import json
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import attrs

from support.process import spawn
from support.runtime import Broker, declare_fleet
from tickborg.config import RabbitMQConfig, load_config
from tickborg.topology import (
    BUILD_LOGS,
    BUILD_RESULTS_QUEUE,
    COMMENT_INPUTS,
    EVALUATION_INPUTS,
    EVALUATION_JOBS,
    PUSH_INPUTS,
    RERUN_INPUTS,
    STATS_EVENTS,
    build_queue,
)

# Long enough for a graceful stop (shutdown_grace_seconds) and the interpreter's exit.
EXIT_SECONDS = 60


def consumers(system: str) -> dict[str, str]:
    """The process that consumes each work queue (docs/architecture.md)."""
    return {
        EVALUATION_INPUTS: "evaluation-filter",
        COMMENT_INPUTS: "github-comment-filter",
        PUSH_INPUTS: "push-filter",
        RERUN_INPUTS: "github-rerun-filter",
        EVALUATION_JOBS: "mass-rebuilder",
        build_queue(system): "builder",
        BUILD_RESULTS_QUEUE: "github-comment-poster",
        BUILD_LOGS: "log-message-collector",
        STATS_EVENTS: "stats",
    }


@attrs.define
class Worker:
    """A `tickborg <name>` process that the test may pause, signal or kill."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def exit_status(self) -> int:
        """Its exit status (a signal that killed it as minus its number), once it is gone."""
        return self.process.wait(EXIT_SECONDS)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def worker(name: str, config_path: Path, log_path: Path) -> Iterator[Worker]:
    """The process for the block; whatever the test did to it, it is gone afterwards
    (its exit status is the test's to check, so none is asserted here)."""
    started = Worker(name, spawn(name, config_path, log_path), log_path)
    try:
        yield started
    finally:
        if started.running:
            started.send(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            started.send(signal.SIGTERM)
            try:
                started.process.wait(EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()


@attrs.frozen
class QueueView:
    """What the broker holds for one queue."""

    ready: int  # not counting those delivered to a consumer and not settled yet
    consumers: int


def view(rabbitmq: RabbitMQConfig, queue: str) -> QueueView:
    """The queue as the broker sees it now (a connection of its own: a test's
    waits would outlast an idle one's heartbeats)."""
    with Broker(rabbitmq) as broker:
        method = broker.channel.queue_declare(queue, passive=True).method
        return QueueView(method.message_count, method.consumer_count)


def declare_topology(config_path: Path) -> None:
    """Every exchange and queue of the fleet, so a test can look at a queue whose consumer is not running."""
    declare_fleet(load_config(config_path))


def config_variant(config_path: Path, name: str, **sections: dict[str, Any]) -> Path:
    """A copy of the config beside it, `name`.json, with these keys set in these sections."""
    data = json.loads(config_path.read_text())
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values}
    variant = config_path.with_name(f"{name}.json")
    variant.write_text(json.dumps(data))
    return variant
