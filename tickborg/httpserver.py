"""What every HTTP server of tickborg does against slow or many clients.

A connection has a thread of its own, up to `max_connections` at once; more
are answered 503 by the accepting thread, which never waits on a client. A
client may be silent for at most `socket_timeout_seconds` (mid-request, idle
on a kept-alive connection, or not reading its answer), and a request read
through `rfile` (its line, headers and any body) must arrive within
`request_deadline_seconds` of its first byte: a timeout per read alone would
let a client that sends a byte now and then (slowloris) hold its connection,
and a thread, for ever. A stop ends every connection's input, so idle clients
do not hold it up either.
"""

from __future__ import annotations

import http.server
import io
import socket
import socketserver
import sys
import threading
import time
from typing import Any, Protocol

from tickborg.config import ListenAddress
from tickborg.listening import address_family
from tickborg.logsetup import get_logger

_log = get_logger(__name__)


class Limits(Protocol):
    """How long and how many clients a server serves (`config.ServerConfig` has them)."""

    @property
    def socket_timeout_seconds(self) -> float: ...

    @property
    def request_deadline_seconds(self) -> float: ...

    @property
    def max_connections(self) -> int: ...


class Connections:
    """The open client connections: at most `limit`, all of them ended by a stop.

    A stop ends their input (SHUT_RD): a connection waiting for a request, or
    for the rest of one, sees the end of its input and closes at once, while a
    request already read is still answered.
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
            late = self.stopping  # accepted just before the stop
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


class DeadlineInput(io.RawIOBase):
    """A connection's input. Each read waits at most `idle_timeout`, and the
    reads of a request end at its deadline, `request_deadline` after its first
    byte. Between reads the socket keeps `idle_timeout`, which then bounds how
    long a write waits for a client that does not read."""

    def __init__(self, sock: socket.socket, idle_timeout: float, request_deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._idle_timeout = idle_timeout
        self._request_deadline = request_deadline
        self.deadline: float | None = None  # None until a request's first byte
        self.ended = False  # the client closed, or a stop ended the input
        sock.settimeout(idle_timeout)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request deadline passed")
            self._sock.settimeout(min(self._idle_timeout, left))
        try:
            size = self._sock.recv_into(buffer)
        finally:
            self._sock.settimeout(self._idle_timeout)
        if self.deadline is None and size:
            self.deadline = time.monotonic() + self._request_deadline
        self.ended = size == 0
        return size


def busy_answer(text: str) -> bytes:
    """A whole 503 response that closes the connection, to send without waiting."""
    body = text.encode()
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )


class BoundedServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A thread per connection within `limits`; its handler must be a `BoundedHandler`."""

    allow_reuse_address = True
    request_queue_size = 128
    # What a connection beyond the bound is told.
    busy = busy_answer("too many connections, try again later")

    def __init__(
        self,
        listen: ListenAddress,
        handler: type[BoundedHandler],
        limits: Limits,
        bind_and_activate: bool = True,
    ) -> None:
        self.address_family = address_family(listen)
        self.limits = limits
        self.connections = Connections(limits.max_connections)
        super().__init__((listen.host, listen.port), handler, bind_and_activate=bind_and_activate)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.connections.admit(request):
            super().process_request(request, client_address)
            return
        _log.warning("too many connections, refused", client=client_address[0], limit=self.connections.limit)
        self._refuse(request)
        self.shutdown_request(request)

    def _refuse(self, sock: socket.socket) -> None:
        """Answer 503 without waiting, as far as the socket's buffer takes it."""
        try:
            sock.setblocking(False)
            sock.send(self.busy)
            # Reading what the client has sent so far keeps the close from
            # resetting the connection, which could discard the answer unread.
            sock.recv(65536)
        except OSError:
            pass

    def shutdown_request(self, request: Any) -> None:
        self.connections.closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A client hanging up or not reading its answer is routine; anything else is a bug worth its traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            _log.info("client connection lost", client=client_address[0], error=str(error))
        else:
            _log.exception("request failed", client=client_address[0])

    def stop(self) -> None:
        """Stop accepting, answer the requests already read, close the rest. Not from the serving thread."""
        self.shutdown()
        self.connections.stop()
        self.server_close()


class BoundedHandler(http.server.BaseHTTPRequestHandler):
    """Reads requests through a `DeadlineInput`; HTTP/1.1 keep-alive."""

    server: BoundedServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        limits = self.server.limits
        self.input = DeadlineInput(self.connection, limits.socket_timeout_seconds, limits.request_deadline_seconds)
        self.rfile.close()  # the plain socket file, replaced by one that keeps the deadline
        self.rfile = io.BufferedReader(self.input)

    def handle_one_request(self) -> None:
        self.input.deadline = None  # the next request's starts with its first byte
        super().handle_one_request()

    def parse_request(self) -> bool:
        # The standard library takes the end of input for the end of a line or
        # of the headers; a request cut short there is not one to answer.
        parsed = not self.input.ended and super().parse_request()
        if self.input.ended:
            self.close_connection = True
            return False
        return parsed
