"""`tickborg <name> --config PATH`: one entry point for every process and tool."""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Sequence

# process or tool name -> "module:function" taking argv (SPEC §1)
COMMANDS: dict[str, str] = {
    "github-webhook-receiver": "tickborg.workers.github_webhook_receiver:main",
    "evaluation-filter": "tickborg.workers.evaluation_filter:main",
    "github-comment-filter": "tickborg.workers.github_comment_filter:main",
    "push-filter": "tickborg.workers.push_filter:main",
    "github-rerun-filter": "tickborg.workers.rerun_filter:main",
    "mass-rebuilder": "tickborg.workers.mass_rebuilder:main",
    "builder": "tickborg.workers.builder:main",
    "github-comment-poster": "tickborg.workers.github_comment_poster:main",
    "log-message-collector": "tickborg.workers.log_message_collector:main",
    "logapi": "tickborg.workers.logapi:main",
    "stats": "tickborg.workers.stats:main",
    "build-faker": "tickborg.workers.build_faker:main",
    "redeliver-webhooks": "tickborg.workers.redeliver_webhooks:main",
    "check-config": "tickborg.tools.check_config:main",
    "topology": "tickborg.tools.topology:main",
    "dead-letters": "tickborg.tools.dead_letters:main",
    "demo": "tickborg.demo:main",
}

USAGE = "usage: tickborg <command> [--config PATH] [options]\ncommands: " + ", ".join(COMMANDS)


def resolve(name: str) -> Callable[[Sequence[str]], int | None]:
    """The command's main function (imported only when run: each process loads what it uses)."""
    module_name, _, function = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module_name), function)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"tickborg: unknown command {name!r}\n{USAGE}\n")
        return 2
    return resolve(name)(rest) or 0


if __name__ == "__main__":
    raise SystemExit(main())


def _entry(name: str) -> Callable[[], int]:
    """The `tickborg-<name>` console script: `tickborg <name>` under another name."""

    def run() -> int:
        return main([name, *sys.argv[1:]])

    run.__name__ = name.replace("-", "_")
    return run


github_webhook_receiver = _entry("github-webhook-receiver")
evaluation_filter = _entry("evaluation-filter")
github_comment_filter = _entry("github-comment-filter")
push_filter = _entry("push-filter")
github_rerun_filter = _entry("github-rerun-filter")
mass_rebuilder = _entry("mass-rebuilder")
builder = _entry("builder")
github_comment_poster = _entry("github-comment-poster")
log_message_collector = _entry("log-message-collector")
logapi = _entry("logapi")
stats = _entry("stats")
build_faker = _entry("build-faker")
redeliver_webhooks = _entry("redeliver-webhooks")
