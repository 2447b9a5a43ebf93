"""`tickborg logapi --config PATH`: serve stored build logs and the live log page (SPEC §10)."""

from __future__ import annotations

import sys
from typing import Sequence

from tickborg.config import LogStorageConfig, ServerConfig
from tickborg.logs.layout import Layout
from tickborg.logs.reader import LogReader
from tickborg.logs.server import NAME, LogApiServer, serve_until_stopped
from tickborg.logsetup import get_logger
from tickborg.process import checked, start


def main(argv: Sequence[str] | None = None) -> int:
    config, _ = start(NAME, argv)
    checked(lambda: config.require_for(NAME))
    settings: ServerConfig = config.require("logapi")
    storage: LogStorageConfig = config.require("log_storage")
    try:
        server = LogApiServer(settings, LogReader(Layout(storage.path)))
    except OSError as exc:
        get_logger(NAME).error("cannot listen", address=str(settings.listen), error=exc.strerror or str(exc))
        return 1
    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
