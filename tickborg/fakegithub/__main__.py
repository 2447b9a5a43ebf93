"""`python -m tickborg.fakegithub --port N --app-id ID --public-key PATH`: the fake as a process.

The demo runs it beside the workers. It serves until SIGTERM/SIGINT and
prints the violations of GitHub's API description it saw, if any, on exit
(status 1 then, so a demo run cannot hide a bad request).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from tickborg.fakegithub.apidesc import ApiDescription
from tickborg.fakegithub.server import FakeGitHub
from tickborg.logsetup import configure_logging, get_logger

log = get_logger("tickborg.fakegithub")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tickborg.fakegithub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-id", type=int, required=True)
    parser.add_argument("--public-key", type=Path, required=True, help="the App's public key (PEM)")
    parser.add_argument(
        "--openapi",
        type=Path,
        default=None,
        help="API description to check requests against (default: the one shipped with tickborg)",
    )
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds")
    parser.add_argument("--bot-login", default="tickbot[bot]")
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME=INSTALLATION",
        help="a repository and the installation serving it (repeatable)",
    )
    return parser.parse_args(argv)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    description = ApiDescription.packaged() if args.openapi is None else ApiDescription.load(args.openapi)
    fake = FakeGitHub(
        app_id=args.app_id,
        public_key_pem=args.public_key.read_text(encoding="utf-8"),
        api_description=description,
        token_lifetime=args.token_lifetime,
        bot_login=args.bot_login,
    )
    for spec in args.repo:
        name, _, installation = spec.partition("=")
        fake.state.add_repo(name, int(installation or 1))
    server = fake.bind(args.host, args.port)
    signal.signal(signal.SIGTERM, _stop)
    log.info("fake github listening", url=fake.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    for violation in fake.violations:
        log.error("request departed from the API description", violation=violation)
    return 1 if fake.violations else 0


if __name__ == "__main__":
    sys.exit(main())
