"""`GET /metrics` in Prometheus text format, on `stats.listen`, within the section's client limits."""

from __future__ import annotations

import threading

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tickborg.config import ServerConfig
from tickborg.httpserver import BoundedHandler, BoundedServer
from tickborg.listening import bind
from tickborg.logsetup import get_logger

_log = get_logger(__name__)


class MetricsServer(BoundedServer):
    daemon_threads = True

    def __init__(self, settings: ServerConfig, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._serving = threading.Thread(target=self.serve_forever, name="metrics-http", daemon=True)
        # Bound by `start()`, so that building a server does no I/O.
        super().__init__(settings.listen, _Handler, settings, bind_and_activate=False)

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    def start(self) -> None:
        """Bind (OSError if the address is taken) and serve in the background."""
        bind(self)
        self._serving.start()


class _Handler(BoundedHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._reply(404, b"not found: try /metrics\n", "text/plain; charset=utf-8")
            return
        self._reply(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        _log.debug("metrics request", request=format % args)
