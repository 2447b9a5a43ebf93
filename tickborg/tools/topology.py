"""`tickborg topology --config PATH [--print]`: declare (or show) the whole AMQP topology."""

from __future__ import annotations

import sys
from typing import Sequence

from tickborg.broker import TopologyMismatch, declare
from tickborg.logsetup import get_logger
from tickborg.process import argument_parser, start
from tickborg.tools import connect_or_report
from tickborg.topology import build_topology, describe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser("topology")
    parser.add_argument("--print", action="store_true", help="show the topology instead of declaring it")
    config, args = start("topology", argv, parser)
    topology = build_topology(config)
    if args.print:
        sys.stdout.write("\n".join(describe(topology)) + "\n")
        return 0
    log = get_logger(__name__)
    connection = connect_or_report(config.rabbitmq, "tickborg topology")
    if connection is None:
        return 1
    try:
        declare(connection.channel(), topology)
    except TopologyMismatch as exc:
        log.error(
            "declaring the topology failed: something exists with other arguments"
            " (rabbitmq.legacy_queues must match the fleet's queues)",
            error=str(exc),
        )
        return 1
    finally:
        if connection.is_open:
            connection.close()
    log.info(
        "topology declared",
        exchanges=len(topology.exchanges),
        queues=len(topology.queues),
        bindings=len(topology.bindings),
    )
    return 0
