"""`tickborg topology --config PATH [--print]`: declare (or show) the whole AMQP topology."""

from __future__ import annotations

import sys
from typing import Sequence

from tickborg.broker import CONNECTION_ERRORS, connect
from tickborg.logsetup import get_logger
from tickborg.process import argument_parser, start
from tickborg.topology import build_topology, declare, describe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser("topology")
    parser.add_argument("--print", action="store_true", help="show the topology instead of declaring it")
    config, args = start("topology", argv, parser)
    topology = build_topology(config)
    if args.print:
        sys.stdout.write("\n".join(describe(topology)) + "\n")
        return 0
    log = get_logger(__name__)
    try:
        connection = connect(config.rabbitmq, "tickborg topology")
    except CONNECTION_ERRORS as exc:
        log.error("cannot reach RabbitMQ", host=config.rabbitmq.host, port=config.rabbitmq.port, error=repr(exc))
        return 1
    try:
        declare(connection.channel(), topology)
    except Exception as exc:  # noqa: BLE001 - e.g. PRECONDITION_FAILED: an existing queue differs
        log.error(
            "declaring the topology failed (an existing queue with other arguments? "
            "check rabbitmq.legacy_queues)",
            error=repr(exc),
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
