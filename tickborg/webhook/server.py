"""The receiver's HTTP side: a thread per connection, HTTP/1.1 keep-alive (SPEC §7).

Each connection has its own thread, up to `max_connections`; more are answered
503 at once by the accepting thread. A client may be silent for at most the
socket timeout, and a whole request must arrive before its deadline, so slow
clients hold neither threads nor a shutdown for long. A request thread
validates the delivery (the pure `validation` module), hands it to the
publisher and waits for the broker's confirm — at most `confirm_timeout`
seconds, well inside GitHub's 10 — before answering 200; anything short of a
confirm is a 503, which GitHub redelivers. Bodies not yet verified share one
memory budget.
"""

from __future__ import annotations

import http.server
import io
import socket
import socketserver
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from tickborg.config import WebhookReceiverConfig
from tickborg.listening import address_family, bind
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


class _Connections:
    """The open client connections: at most `limit`, all of them ended by a shutdown.

    A shutdown ends their input (SHUT_RD): a connection waiting for a request,
    or for the rest of one, sees the end of its input and closes at once,
    while a request already read is still published and answered.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.stopping = False

    def admit(self, sock: socket.socket) -> bool:
        """Count `sock` in; False when `limit` connections are open already."""
        with self._lock:
            if len(self._open) >= self.limit:
                return False
            self._open.add(sock)
            late = self.stopping  # accepted just before the shutdown
        if late:
            _end_input(sock)
        return True

    def closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def stop(self) -> None:
        with self._lock:
            self.stopping = True
            open_now = list(self._open)
        for sock in open_now:
            _end_input(sock)


def _end_input(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)  # also wakes a thread blocked reading it
    except OSError:  # already gone
        pass


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


class _Input(io.RawIOBase):
    """A connection's input. Each read waits at most `idle_timeout`, and the
    reads of a request end at its deadline, `request_deadline` after its first
    byte: a timeout per read alone would let a client that sends a byte now and
    then hold its connection for ever."""

    def __init__(self, sock: socket.socket, idle_timeout: float, request_deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._idle_timeout = idle_timeout
        self._request_deadline = request_deadline
        self.deadline: float | None = None  # None until a request's first byte
        self.ended = False  # the client closed, or a shutdown ended the input

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            self._sock.settimeout(self._idle_timeout)
        else:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request deadline passed")
            self._sock.settimeout(min(self._idle_timeout, left))
        size = self._sock.recv_into(buffer)
        if self.deadline is None and size:
            self.deadline = time.monotonic() + self._request_deadline
        self.ended = size == 0
        return size


class WebhookServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    # Not daemon threads: server_close() waits for in-flight requests.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, settings: WebhookReceiverConfig, publisher: Publishing, events: Emit = discard) -> None:
        listen = settings.listen
        self.address_family = address_family(listen)
        self.settings = settings
        self.secret = settings.webhook_secret.value.encode()
        self.publisher = publisher
        self.events = events
        self.connections = _Connections(settings.max_connections)
        self.unverified = _Budget(settings.max_unverified_body_bytes)
        # Bound by `listen()`, so that building a server does no I/O.
        super().__init__((listen.host, listen.port), _Handler, bind_and_activate=False)

    def listen(self) -> None:
        bind(self)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.connections.admit(request):
            super().process_request(request, client_address)
            return
        # Answered by the accepting thread, which must not wait on this client.
        _log.warning("too many connections, refused", client=client_address[0], limit=self.connections.limit)
        _refuse(request)
        self.shutdown_request(request)

    def shutdown_request(self, request: Any) -> None:
        self.connections.closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A client hanging up mid-request is routine; anything else is a bug worth its traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            _log.info("client connection lost", client=client_address[0], error=str(error))
        else:
            _log.exception("request failed", client=client_address[0])

    def stop(self) -> None:
        """Stop accepting, answer the requests already read, close the rest. Not from the serving thread."""
        self.shutdown()
        self.connections.stop()
        self.server_close()


_TOO_MANY = b"too many connections, deliver again later"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TOO_MANY), _TOO_MANY)
)


def _refuse(sock: socket.socket) -> None:
    """Answer 503 without waiting, as far as the socket's buffer takes it."""
    try:
        sock.setblocking(False)
        sock.send(_BUSY)
        # Reading what the client has sent so far keeps the close from
        # resetting the connection, which could discard the answer unread.
        sock.recv(65536)
    except OSError:
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"  # keep-alive: GitHub and load balancers reuse connections
    disable_nagle_algorithm = True  # a response is one small write; send it at once
    wbufsize = -1  # buffered: status line, headers and body leave in one send

    def setup(self) -> None:
        super().setup()
        settings = self.server.settings
        self._input = _Input(self.connection, settings.socket_timeout_seconds, settings.request_deadline_seconds)
        self.rfile.close()  # the plain socket file, replaced by one that keeps the deadline
        self.rfile = io.BufferedReader(self._input)

    def handle_one_request(self) -> None:
        self._input.deadline = None  # the next request's starts with its first byte
        super().handle_one_request()

    def parse_request(self) -> bool:
        # The standard library takes the end of input for the end of a line or
        # of the headers; a request cut short there is not one to answer.
        parsed = not self._input.ended and super().parse_request()
        if self._input.ended:
            self.close_connection = True
            return False
        return parsed

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
