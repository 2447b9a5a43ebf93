"""The receiver's HTTP side: a thread per connection, HTTP/1.1 keep-alive (SPEC §7).

Each connection has its own thread and socket timeout, so a slow client only
holds its own thread. A request thread validates the delivery (the pure
`validation` module), hands it to the publisher and waits for the broker's
confirm — at most `confirm_timeout` seconds, well inside GitHub's 10 — before
answering 200; anything short of a confirm is a 503, which GitHub redelivers.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

from tickborg.config import ListenAddress
from tickborg.logsetup import get_logger
from tickborg.webhook.publisher import Message, Nacked, Unavailable
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


class _Connections:
    """Open client connections, so a shutdown can end the idle keep-alive ones.

    A connection is busy from its request line to the end of its response; a
    shutdown lets busy ones finish (answering `Connection: close`) and shuts
    the idle ones down, which ends their threads' wait for a next request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: dict[socket.socket, bool] = {}
        self.stopping = False

    def opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._busy[sock] = False
            late = self.stopping  # accepted just before the shutdown
        if late:
            _shut(sock)

    def closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._busy.pop(sock, None)

    def busy(self, sock: socket.socket) -> None:
        with self._lock:
            self._busy[sock] = True

    def idle(self, sock: socket.socket) -> bool:
        """Mark `sock` idle; False if a shutdown began (the connection must close)."""
        with self._lock:
            self._busy[sock] = False
            return not self.stopping

    def stop(self) -> None:
        with self._lock:
            self.stopping = True
            idle = [sock for sock, busy in self._busy.items() if not busy]
        for sock in idle:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already gone
        pass


class WebhookServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    # Not daemon threads: server_close() waits for in-flight requests.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        listen: ListenAddress,
        secret: bytes,
        publisher: Publishing,
        confirm_timeout: float = 5.0,
        socket_timeout: float = 10.0,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
        self.secret = secret
        self.publisher = publisher
        self.confirm_timeout = confirm_timeout
        self.socket_timeout = socket_timeout
        self.connections = _Connections()
        # Bound by `listen()`, so that building a server does no I/O.
        super().__init__((listen.host, listen.port), _Handler, bind_and_activate=False)

    def listen(self) -> None:
        try:
            self.server_bind()
            self.server_activate()
        except OSError:
            self.socket.close()
            raise

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A client hanging up mid-request is routine; anything else is a bug worth its traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            _log.info("client connection lost", client=client_address[0], error=str(error))
        else:
            _log.exception("request failed", client=client_address[0])

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, close. Not from the serving thread."""
        self.shutdown()
        self.connections.stop()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"  # keep-alive: GitHub and load balancers reuse connections
    disable_nagle_algorithm = True  # a response is one small write; send it at once
    wbufsize = -1  # buffered: status line, headers and body leave in one send

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)
        self.server.connections.opened(self.connection)

    def finish(self) -> None:
        self.server.connections.closed(self.connection)
        super().finish()

    def parse_request(self) -> bool:
        self.server.connections.busy(self.connection)
        return super().parse_request()

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
        if not self.server.connections.idle(self.connection):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = _dispatch

    def _webhook(self) -> None:
        started = time.monotonic()
        headers = self.headers
        log = _log.bind(delivery=headers.get("X-GitHub-Delivery"), github_event=headers.get("X-GitHub-Event"))
        length = content_length(headers.get_all("Content-Length") or [], headers.get("Transfer-Encoding"))
        if isinstance(length, Rejected):
            log.warning("webhook rejected", status=length.status, reason=length.reason)
            self._reply(length.status, length.reason, close=True)
            return
        if headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return
        outcome = check_delivery(
            self.server.secret,
            body,
            headers.get("X-Hub-Signature-256"),
            headers.get("X-GitHub-Event"),
            headers.get("X-GitHub-Delivery"),
        )
        if isinstance(outcome, Rejected):
            log.warning("webhook rejected", status=outcome.status, reason=outcome.reason)
            self._reply(outcome.status, outcome.reason)
            return
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

    def _publish(self, delivery: Accepted, body: bytes) -> str | None:
        """None once the broker confirmed the message, else why it was not."""
        message = Message(delivery.routing_key, body, delivery.delivery)
        try:
            self.server.publisher.submit(message).result(timeout=self.server.confirm_timeout)
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
