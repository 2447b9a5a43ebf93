"""`tickborg check-config --config PATH`: validate, print a summary, exit 0 or 2."""

from __future__ import annotations

import sys
from typing import Sequence

from tickborg.cli import COMMANDS
from tickborg.config import Config
from tickborg.process import argument_parser, checked, start


def summary(config: Config) -> list[str]:
    sections = [
        name
        for name in ("github_app", "github_webhook_receiver", "checkout", "builder", "log_storage", "logapi", "stats")
        if getattr(config, name) is not None
    ]
    rabbit = config.rabbitmq
    return [
        f"config {config.source}: ok",
        f"identity: {config.identity}",
        f"rabbitmq: {rabbit.username}@{rabbit.address}{rabbit.virtualhost}"
        f" ({'legacy classic' if rabbit.legacy_queues else 'quorum'} queues, {rabbit.delivery_limit} attempts)",
        f"repos: {', '.join(config.repos) or '(none)'}",
        f"systems: primary {', '.join(config.systems.primary)}; all {', '.join(config.systems.all)}",
        f"projects: {', '.join(f'{p.name} ({p.build_system})' for p in config.projects) or '(none)'}",
        f"sections: {', '.join(sections) or '(none)'}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser("check-config")
    parser.add_argument("--process", choices=sorted(COMMANDS), help="also require the sections this process needs")
    config, args = start("check-config", argv, parser)
    if args.process:
        checked(lambda: config.require_for(args.process))
    sys.stdout.write("\n".join(summary(config)) + "\n")
    return 0
