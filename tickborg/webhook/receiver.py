"""The github-webhook-receiver process: wiring, start-up and graceful shutdown."""

from __future__ import annotations

import signal
import threading

from tickborg.config import Config, WebhookReceiverConfig
from tickborg.logsetup import get_logger
from tickborg.topology import (
    COMMENT_INPUTS,
    EVALUATION_INPUTS,
    GITHUB_EVENTS,
    PUSH_INPUTS,
    RERUN_INPUTS,
    UNKNOWN_EVENTS,
    build_topology,
)
from tickborg.publisher import Publisher
from tickborg.stats.emitter import StatsEmitter, stats_emitter
from tickborg.webhook.server import WebhookServer

NAME = "github-webhook-receiver"
SECTION = "github_webhook_receiver"
# The exchange and the queues bound to it, so no delivery is dropped for want
# of a binding even before the filters have started.
INPUT_QUEUES = (EVALUATION_INPUTS, COMMENT_INPUTS, PUSH_INPUTS, RERUN_INPUTS, UNKNOWN_EVENTS)

_log = get_logger(__name__)


class Receiver:
    """The HTTP server and the publisher thread, started and stopped together."""

    def __init__(self, server: WebhookServer, publisher: Publisher, events: StatsEmitter) -> None:
        self.server = server
        self.publisher = publisher
        self.events = events
        self._serving = threading.Thread(target=server.serve_forever, name="webhook-http")

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.socket.getsockname()[:2]
        return host, port

    def start(self) -> None:
        """Bind the listening socket (OSError if taken), connect, serve in the background."""
        self.server.listen()
        self.events.start()
        self.publisher.start()
        self._serving.start()

    def stop(self) -> None:
        """Stop accepting, finish in-flight requests, then close the broker connection."""
        self.server.stop()
        self._serving.join()
        self.publisher.stop()
        self.events.stop()


def build(config: Config) -> Receiver:
    """The receiver for `config`, not yet started (ConfigError if its section is missing)."""
    section: WebhookReceiverConfig = config.require(SECTION)
    topology = build_topology(config).select(INPUT_QUEUES)
    publisher = Publisher(
        config.rabbitmq,
        topology,
        GITHUB_EVENTS,
        name=f"tickborg {NAME} {config.identity}",
        max_unconfirmed=section.max_unconfirmed_publishes,
        # A confirm later than a request would wait for it: the broker is not confirming.
        confirm_overdue=section.confirm_timeout_seconds,
    )
    events = stats_emitter(config, NAME)
    return Receiver(WebhookServer(section, publisher, events), publisher, events)


def run(receiver: Receiver) -> int:
    """Serve until SIGTERM or SIGINT. Exit status: 0 after a clean stop, 1 if it cannot listen."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        receiver.start()
    except OSError as exc:
        _log.error("cannot listen", address=_address(receiver), error=exc.strerror or str(exc))
        return 1
    _log.info("listening", address=_address(receiver))
    stopping.wait()
    _log.info("stopping: finishing in-flight requests")
    receiver.stop()
    _log.info("stopped")
    return 0


def _address(receiver: Receiver) -> str:
    host, port = receiver.address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
