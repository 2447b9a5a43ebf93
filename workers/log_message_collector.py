"""`tickborg log-message-collector --config PATH`: build logs from `build-logs` onto disk (SPEC §10)."""

from __future__ import annotations

import sys
from typing import Sequence

from tickborg.config import LogStorageConfig
from tickborg.logs.collector import NAME, LogCollector
from tickborg.logs.layout import Layout
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.emitter import emitting
from tickborg.topology import BUILD_LOGS

# Lines are small and quick to store: many in flight keep a chatty build's log moving.
PREFETCH = 100


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    storage: LogStorageConfig = config.require("log_storage")
    with emitting(config, NAME) as events:
        # A result waiting for lines is retried once: with one attempt only, it must not wait.
        wait = storage.gap_wait_seconds if config.rabbitmq.delivery_limit > 1 else 0.0
        collector = LogCollector(Layout(storage.path), gap_wait_seconds=wait)
        return serve(collector, config, consumes=[BUILD_LOGS], prefetch=PREFETCH, events=events)


if __name__ == "__main__":
    sys.exit(main())
