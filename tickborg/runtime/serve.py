"""Run one worker as a process: declare what it uses, consume until SIGTERM."""

from __future__ import annotations

from typing import Sequence

from tickborg.config import Config
from tickborg.runtime.consumer import Runner
from tickborg.runtime.worker import AnyWorker
from tickborg.stats.emit import Emit, discard
from tickborg.topology import build_topology


def serve(
    worker: AnyWorker,
    config: Config,
    consumes: Sequence[str],
    publishes_to: Sequence[str] = (),
    prefetch: int = 1,
    events: Emit = discard,
) -> int:
    """Consume `consumes`; `publishes_to` names queues the worker sends to
    directly, declared so that no message is published into the void;
    `events` gets the runtime's metrics events."""
    topology = build_topology(config).select([*consumes, *publishes_to])
    runner = Runner(worker, consumes, config.rabbitmq, topology, config.identity, prefetch, events=events)
    runner.install_signal_handlers()
    return runner.run()
