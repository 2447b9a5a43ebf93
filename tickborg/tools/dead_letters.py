"""`tickborg dead-letters {list,replay,purge}`: inspect and recover `{queue}.dead`.

    tickborg dead-letters list   --config PATH [--queue Q] [--show N]
    tickborg dead-letters replay --config PATH --queue Q [--limit N]
    tickborg dead-letters purge  --config PATH --queue Q

`replay` moves messages back to their work queue with a fresh attempt count,
after the cause (a bug, an outage) has been fixed.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import pika

from tickborg.broker import copy_properties
from tickborg.process import argument_parser, start
from tickborg.runtime.retry import ATTEMPT_HEADER, DEAD_REASON_HEADER, ROUTING_KEY_HEADER
from tickborg.tools import connect_or_report
from tickborg.topology import RETRY_HEADER, build_topology, dead_queue

# Headers describing a past failure; a replayed message starts clean.
_FAILURE_HEADERS = {ATTEMPT_HEADER, RETRY_HEADER, "tickborg-last-error", DEAD_REASON_HEADER,
                    "tickborg-dead-queue", "tickborg-dead-at", "x-death", "x-first-death-exchange",
                    "x-first-death-queue", "x-first-death-reason", "x-delivery-count",
                    "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason"}


def dead_reason(props: pika.BasicProperties) -> str:
    """Why a dead letter is dead: our header, else the broker's own x-death reason."""
    headers = props.headers or {}
    if DEAD_REASON_HEADER in headers:
        return str(headers[DEAD_REASON_HEADER])
    deaths = headers.get("x-death") or [{}]
    return f"rejected by the broker ({deaths[0].get('reason', 'unknown')})"


def list_dead(channel: Any, queues: Sequence[str], show: int) -> list[str]:
    lines = []
    for queue in queues:
        dead = dead_queue(queue)
        count = channel.queue_declare(dead, passive=True).method.message_count
        lines.append(f"{dead}: {count}")
        # Peek: take without acking, then let the channel's close return them in order.
        for _ in range(min(show, count)):
            method, props, body = channel.basic_get(dead, auto_ack=False)
            if method is None:
                break
            key = (props.headers or {}).get(ROUTING_KEY_HEADER, "")
            lines.append(f"  - {dead_reason(props)} [routing key {key!r}, {len(body)} bytes]")
    return lines


def replay(channel: Any, queue: str, limit: int | None) -> int:
    channel.confirm_delivery()
    moved = 0
    while limit is None or moved < limit:
        method, props, body = channel.basic_get(dead_queue(queue), auto_ack=False)
        if method is None:
            break
        headers = {k: v for k, v in (props.headers or {}).items() if k not in _FAILURE_HEADERS}
        channel.basic_publish(
            "",
            queue,
            body,
            copy_properties(props, headers),
            mandatory=True,
        )
        channel.basic_ack(method.delivery_tag)
        moved += 1
    return moved


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser("dead-letters")
    parser.add_argument("action", choices=("list", "replay", "purge"))
    parser.add_argument("--queue", help="work queue whose dead letters to act on")
    parser.add_argument("--show", type=int, default=5, help="list: reasons shown per queue")
    parser.add_argument("--limit", type=int, help="replay: at most this many")
    config, args = start("dead-letters", argv, parser)
    work_queues = [q.name for q in build_topology(config).queues if q.is_work_queue]
    if args.queue is not None and args.queue not in work_queues:
        sys.stderr.write(f"tickborg dead-letters: unknown queue {args.queue!r} (known: {', '.join(work_queues)})\n")
        return 2
    if args.action != "list" and args.queue is None:
        sys.stderr.write(f"tickborg dead-letters {args.action}: --queue is required\n")
        return 2
    connection = connect_or_report(config.rabbitmq, "tickborg dead-letters")
    if connection is None:
        return 1
    try:
        channel = connection.channel()
        if args.action == "list":
            sys.stdout.write("\n".join(list_dead(channel, [args.queue] if args.queue else work_queues, args.show)) + "\n")
        elif args.action == "replay":
            sys.stdout.write(f"replayed {replay(channel, args.queue, args.limit)} message(s) to {args.queue}\n")
        else:
            purged = channel.queue_purge(dead_queue(args.queue)).method.message_count
            sys.stdout.write(f"purged {purged} message(s) from {dead_queue(args.queue)}\n")
    finally:
        connection.close()
    return 0
