"""The logapi process's HTTP side: GET and HEAD only, a thread per connection
within the section's client limits (`tickborg.httpserver`) (SPEC §10)."""

from __future__ import annotations

import importlib.resources
import signal
import threading
from typing import Any

from tickborg.config import ServerConfig
from tickborg.httpserver import BoundedHandler, BoundedServer
from tickborg.logs.api import COMMON_HEADERS, Response, answer
from tickborg.logs.reader import LogReader
from tickborg.logsetup import get_logger

NAME = "logapi"
ALLOWED = "GET, HEAD"

_log = get_logger(__name__)


def page() -> bytes:
    return importlib.resources.files("tickborg.logs.data").joinpath("logpage.html").read_bytes()


class LogApiServer(BoundedServer):
    daemon_threads = True  # a log still being sent must not hold up a stop

    def __init__(self, settings: ServerConfig, reader: LogReader) -> None:
        """Bound and listening once built (OSError if the address is taken)."""
        self.reader = reader
        self.page = page()
        super().__init__(settings.listen, _Handler, settings)


class _Handler(BoundedHandler):
    server: LogApiServer

    def do_GET(self) -> None:
        self._respond(answer(self.server.reader, self.server.page, self.path), send_body=True)

    def do_HEAD(self) -> None:
        self._respond(answer(self.server.reader, self.server.page, self.path), send_body=False)

    def __getattr__(self, name: str) -> Any:
        # Any other method (POST, PUT, DELETE, or one never heard of): 405, not the stdlib's 501.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self.close_connection = True  # its body, if any, is never read
        self._respond(Response(405, "text/plain; charset=utf-8", b"only GET and HEAD\n", headers=(("Allow", ALLOWED),)), True)

    def _respond(self, response: Response, send_body: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        length = response.length if response.file is not None else len(response.body)
        self.send_header("Content-Length", str(length))
        for name, value in (*COMMON_HEADERS, *response.headers):
            self.send_header(name, value)
        self.end_headers()
        if response.file is None:
            if send_body:
                self.wfile.write(response.body)
            return
        with response.file:
            if send_body and _copy(response.file, self.wfile, length) < length:
                self.close_connection = True  # cut short (the log was truncated): the client must not wait

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("request", line=format % args, client=self.client_address[0])


def _copy(source: Any, target: Any, length: int) -> int:
    """At most `length` bytes, how many were sent: a log growing meanwhile must not overrun the Content-Length."""
    sent = 0
    while sent < length:
        chunk = source.read(min(length - sent, 64 * 1024))
        if not chunk:
            break
        target.write(chunk)
        sent += len(chunk)
    return sent


def serve_until_stopped(server: LogApiServer) -> int:
    """Serve until SIGTERM or SIGINT, then stop cleanly: exit status 0."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    serving = threading.Thread(target=server.serve_forever, name="logapi-http")
    serving.start()
    host, port = server.server_address[:2]
    _log.info("listening", address=f"{host}:{port}")
    stopping.wait()
    server.stop()
    serving.join()
    _log.info("stopped")
    return 0
