"""The receiver's HTTP side: a thread per connection, HTTP/1.1 keep-alive (SPEC §7).

Slow or many clients are bounded as on every server of tickborg
(`tickborg.httpserver`: `max_connections`, the socket timeout, the request
deadline). A request thread validates the delivery (the pure `validation`
module), hands it to the publisher and waits for the broker's confirm — at
most `confirm_timeout` seconds, well inside GitHub's 10 — before answering
200; anything short of a confirm is a 503, which GitHub redelivers. Bodies not
yet verified share one memory budget.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from tickborg.config import WebhookReceiverConfig
from tickborg.httpserver import BoundedHandler, BoundedServer, busy_answer
from tickborg.listening import bind
from tickborg.logsetup import get_logger
from tickborg.messages import Event
from tickborg.publisher import Message, Nacked, Unavailable
from tickborg.stats.emit import Emit, discard
from tickborg.webhook.validation import (
    Accepted,
    Rejected,
    Route,
    allowed_methods,
    check_delivery,
    content_length,
    route,
)

_log = get_logger(__name__)


class Publishing(Protocol):
    @property
    def ready(self) -> bool: ...

    def submit(self, message: Message) -> Future[None]: ...


class _Budget:
    """Bytes of request bodies held before their signature is checked, across connections."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._lock = threading.Lock()
        self._held = 0

    def take(self, size: int) -> bool:
        with self._lock:
            if self._held + size > self.total:
                return False
            self._held += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self._held -= size


class WebhookServer(BoundedServer):
    # Not daemon threads: server_close() waits for in-flight requests.
    daemon_threads = False
    block_on_close = True
    busy = busy_answer("too many connections, deliver again later")

    def __init__(self, settings: WebhookReceiverConfig, publisher: Publishing, events: Emit = discard) -> None:
        self.settings = settings
        self.secret = settings.webhook_secret.value.encode()
        self.publisher = publisher
        self.events = events
        self.unverified = _Budget(settings.max_unverified_body_bytes)
        # Bound by `listen()`, so that building a server does no I/O.
        super().__init__(settings.listen, _Handler, settings, bind_and_activate=False)

    def listen(self) -> None:
        bind(self)


class _Handler(BoundedHandler):
    server: WebhookServer
    # Keep-alive (from BoundedHandler): GitHub and load balancers reuse connections.
    disable_nagle_algorithm = True  # a response is one small write; send it at once
    wbufsize = -1  # buffered: status line, headers and body leave in one send

    def handle_expect_100(self) -> bool:
        # Decided in _webhook, once the length is known to be acceptable: an
        # oversized body is refused before the client sends it.
        return True

    def _dispatch(self) -> None:
        kind = route(self.command, self.path)
        if kind is Route.WEBHOOK:
            self._webhook()
        elif kind is Route.HEALTH:
            ready = self.server.publisher.ready
            self._reply(200 if ready else 503, "ok" if ready else "broker unavailable")
        else:
            # The body (if any) is left unread, so the connection cannot be reused.
            self._reply(405, "method not allowed", close=True, allow=allowed_methods(self.path))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = _dispatch

    def _webhook(self) -> None:
        started = time.monotonic()
        headers = self.headers
        log = _log.bind(delivery=headers.get("X-GitHub-Delivery"), github_event=headers.get("X-GitHub-Event"))
        unverified = self.server.unverified
        length = content_length(
            headers.get_all("Content-Length") or [], headers.get("Transfer-Encoding"), unverified.total
        )
        if isinstance(length, Rejected):
            log.warning("webhook rejected", status=length.status, reason=length.reason)
            self._reply(length.status, length.reason, close=True)
            return
        if not unverified.take(length):
            # Bodies from anyone, not yet known to be GitHub's, must not exhaust memory.
            log.warning("webhook rejected", status=503, reason="unverified body budget exhausted", bytes=length)
            self._reply(503, "too many deliveries being received, deliver again later", close=True)
            return
        try:
            body = self._read_body(length, log)
            if body is None:
                return
            outcome = check_delivery(
                self.server.secret,
                body,
                headers.get("X-Hub-Signature-256"),
                headers.get("X-GitHub-Event"),
                headers.get("X-GitHub-Delivery"),
            )
        finally:
            unverified.give_back(length)
        if isinstance(outcome, Rejected):
            log.warning("webhook rejected", status=outcome.status, reason=outcome.reason)
            self._reply(outcome.status, outcome.reason)
            return
        self.server.events(Event.of("webhook-received", outcome.event))
        log = log.bind(repo=outcome.repository, routing_key=outcome.routing_key)
        problem = self._publish(outcome, body)
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        if problem is None:
            log.info("webhook published", status=200, ms=elapsed_ms)
            self._reply(200, outcome.routing_key)
        else:
            # The broker's own words stay in the log; GitHub only needs to know to redeliver.
            log.warning("webhook not published", status=503, reason=problem, ms=elapsed_ms)
            self._reply(503, "broker unavailable, deliver again later")

    def _read_body(self, length: int, log: Any) -> bytes | None:
        """The body, or None when it did not all arrive (the connection is then answered or closed)."""
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            log.warning("webhook rejected", status=408, reason="request not received in time")
            self._reply(408, "request not received in time", close=True)
            return None
        if len(body) == length:
            return body
        if self.server.connections.stopping:  # its input was ended by the shutdown
            self._reply(503, "shutting down, deliver again later", close=True)
        else:  # the client went away mid-body
            self.close_connection = True
        return None

    def _publish(self, delivery: Accepted, body: bytes) -> str | None:
        """None once the broker confirmed the message, else why it was not."""
        message = Message(delivery.routing_key, body, delivery.delivery)
        try:
            self.server.publisher.submit(message).result(timeout=self.server.settings.confirm_timeout_seconds)
        except (Unavailable, Nacked) as exc:
            return str(exc)
        except FutureTimeout:
            return "broker did not confirm in time"
        return None

    def _reply(self, status: int, text: str, close: bool = False, allow: str | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if allow is not None:
            self.send_header("Allow", allow)
        if close or self.server.connections.stopping:
            self.send_header("Connection", "close")  # also sets close_connection
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Deliveries are logged by `_webhook`, with their context."""

    def log_message(self, format: str, *args: object) -> None:
        _log.warning("http", client=self.client_address[0], message=format % args)
