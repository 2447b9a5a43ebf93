"""`tickborg demo`: the whole fleet on this machine, driving one pull request to its check runs (SPEC §16)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from tickborg.demo.run import Options, run


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tickborg demo", description=__doc__)
    parser.add_argument("--keep-running", action="store_true", help="leave the fleet and the log page up until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS", help="for the whole run (default 180)")
    parser.add_argument("--rabbitmq-host", default="127.0.0.1")
    parser.add_argument("--rabbitmq-port", type=int, default=5672)
    parser.add_argument("--rabbitmq-user", default="guest", help="gets permissions on the demo's vhost")
    parser.add_argument("--rabbitmq-password", default="guest")
    args = parser.parse_args(argv)
    options = Options(
        timeout_seconds=args.timeout,
        keep_running=args.keep_running,
        rabbitmq_host=args.rabbitmq_host,
        rabbitmq_port=args.rabbitmq_port,
        rabbitmq_user=args.rabbitmq_user,
        rabbitmq_password=args.rabbitmq_password,
    )
    return run(options, _say)
