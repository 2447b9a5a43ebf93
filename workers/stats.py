"""`tickborg stats --config PATH`: the fleet's events from `stats-events` as Prometheus metrics on `GET /metrics`.

The process emits no events itself: each would be a message it then receives.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tickborg.logsetup import get_logger
from tickborg.process import checked, start
from tickborg.runtime.serve import serve
from tickborg.stats.http import MetricsServer
from tickborg.stats.metrics import Metrics
from tickborg.stats.worker import StatsCollector
from tickborg.topology import STATS_EVENTS

NAME = "stats"
# Events are tiny and quick to count: take many at once.
PREFETCH = 100


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    settings = config.require("stats")
    listen = settings.listen
    log = get_logger(NAME, identity=config.identity)
    metrics = Metrics()
    server = MetricsServer(settings, metrics.registry)
    try:
        server.start()
    except OSError as exc:
        log.error("cannot listen", address=str(listen), error=exc.strerror or str(exc))
        return 1
    log.info("serving /metrics", address=str(listen))
    try:
        return serve(StatsCollector(metrics), config, consumes=[STATS_EVENTS], prefetch=PREFETCH)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
