"""Lines are acked only once they are on disk: on the real broker, the collector
syncs what a batch of deliveries wrote before the runtime acks them, and a
failing sync hands the batch back to the broker rather than acking it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from logs_support import ATTEMPT, PR_KEY, body, line, log_text
from support import rabbit
from support.process import wait_until
from support.runtime import Broker, RunningWorker
from tickborg.broker import declare
from tickborg.config import Config, RabbitMQConfig
from tickborg.logs.collector import LogCollector
from tickborg.logs.layout import Layout
from tickborg.topology import BUILD_LOGS, LOGS, build_topology


class Watched(LogCollector):
    """The collector, noting at each sync how many deliveries the broker still
    counted unacked and how many files were waiting to be synced."""

    def __init__(self, layout: Layout, virtualhost: str, failures: int = 0) -> None:
        super().__init__(layout, gap_wait_seconds=0)
        self.virtualhost = virtualhost
        self.failures = failures
        self.syncs: list[tuple[int, int]] = []

    def before_ack(self) -> None:
        self.syncs.append((rabbit.unacked(self.virtualhost), len(self.writer.unsynced.files)))
        if len(self.syncs) <= self.failures:
            raise OSError(5, "Input/output error")  # as a failing disk's fsync
        super().before_ack()


def run(config: Config, worker: Watched, lines: list[str]) -> Path:
    """Queue the lines first (they arrive as one prefetch window), then let the worker store them."""
    topology = build_topology(config).select([BUILD_LOGS])
    log = Layout(worker.layout.root).attempt(PR_KEY, ATTEMPT).log
    with Broker(config.rabbitmq) as broker:
        declare(broker.channel, topology)
        for number, text in enumerate(lines, 1):
            broker.channel.basic_publish(LOGS, PR_KEY, body(line(number, text)), mandatory=True)
        with RunningWorker(worker, config, queues=(BUILD_LOGS,), topology=topology, prefetch=100):
            wait_until(lambda: log.exists() and log.read_bytes() == log_text(lines), timeout=60)
            wait_until(lambda: broker.count(BUILD_LOGS) == 0 and rabbit.unacked(config.rabbitmq.virtualhost) == 0, timeout=60)
    return log


def test_a_batch_is_synced_before_it_is_acked(
    rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(rabbitmq_config)
    worker = Watched(Layout(tmp_path / "logs"), rabbitmq_config.virtualhost)
    lines = [f"line {n}" for n in range(1, 31)]
    run(config, worker, lines)
    assert worker.syncs, "the lines were acked without a sync"
    unacked, waiting = worker.syncs[0]
    assert waiting > 0 and unacked > 0  # the first batch's lines, written and held, not yet acked
    assert len(worker.syncs) < len(lines)  # a sync per batch, not per line
    assert not worker.writer.unsynced.files


def test_a_failed_sync_hands_the_batch_back(
    rabbitmq_config: RabbitMQConfig, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(rabbitmq_config)
    worker = Watched(Layout(tmp_path / "logs"), rabbitmq_config.virtualhost, failures=1)
    lines = [f"line {n}" for n in range(1, 31)]
    run(config, worker, lines)  # stored once, acked after the sync that worked
    assert len(worker.syncs) >= 2
    assert worker.syncs[1][0] > 0  # the batch came back, and was held again until its sync
    assert not worker.writer.unsynced.files
