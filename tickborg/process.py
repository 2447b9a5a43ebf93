"""What every process does first: parse `--config PATH`, set up logging, load config.

A configuration problem ends the process with exit status 2 and one line on
stderr naming the key, never a traceback (SPEC §12).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn, Sequence, TypeVar

from tickborg.config import Config, ConfigError, config_path, load_config
from tickborg.logsetup import configure_logging

T = TypeVar("T")


def config_error_exit(error: ConfigError) -> NoReturn:
    sys.stderr.write(f"tickborg: configuration error: {error}\n")
    raise SystemExit(2)


def argument_parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"tickborg {name}")
    parser.add_argument("--config", metavar="PATH", help="config file (default $TICKBORG_CONFIG or ./config.json)")
    return parser


def start(name: str, argv: Sequence[str] | None, parser: argparse.ArgumentParser | None = None) -> tuple[Config, argparse.Namespace]:
    """Parse arguments and load the config for process `name`."""
    args = (parser or argument_parser(name)).parse_args(argv)
    configure_logging()
    try:
        return load_config(config_path(args.config)), args
    except ConfigError as error:
        config_error_exit(error)


def checked(build: Callable[[], T]) -> T:
    """Run `build` (which may call `Config.require`), exiting 2 on a ConfigError."""
    try:
        return build()
    except ConfigError as error:
        config_error_exit(error)
