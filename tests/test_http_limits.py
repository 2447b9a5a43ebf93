"""logapi and stats, as processes, against slow and many clients over real sockets.

Both are built on `tickborg.httpserver`, like the receiver (tests/webhook/
test_webhook_limits.py): at most `max_connections` connections get a thread,
more are answered 503 at once, a silent client is dropped after
`socket_timeout_seconds` and one trickling its request at
`request_deadline_seconds`.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest
from support.config import base_config_data
from support.process import tickborg_process, wait_until
from support.rabbit import free_port
from support.sockets import answer

CAP = 6
IDLE_CLIENTS = 30
TIMEOUT = 2.0


@attrs.frozen
class Server:
    address: tuple[str, int]
    target: str  # what a real client asks for
    pid: int

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def get(self) -> int | None:
        """A real client's request: the status, or None when the server is not listening."""
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        try:
            connection.request("GET", self.target)
            return connection.getresponse().status
        except ConnectionRefusedError:
            return None
        finally:
            connection.close()


def _section(port: int, **limits: Any) -> dict[str, Any]:
    return {"listen": f"127.0.0.1:{port}", "max_connections": CAP, **limits}


Start = Callable[..., Server]


@pytest.fixture(params=["logapi", pytest.param("stats", marks=pytest.mark.broker)])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Start]:
    """start(**limits): the process named by the parameter, serving with `max_connections` CAP."""

    def started(**limits: Any) -> Server:
        port = free_port()
        if request.param == "logapi":
            data = base_config_data(logapi=_section(port, **limits), log_storage={"path": str(tmp_path / "logs")})
            target = "/"
        else:
            data = base_config_data(request.getfixturevalue("rabbitmq_config"), stats=_section(port, **limits))
            target = "/metrics"
        config = tmp_path / "config.json"
        config.write_text(json.dumps(data))
        process = stack.enter_context(tickborg_process(request.param, config, tmp_path / f"{request.param}.log"))
        server = Server(("127.0.0.1", port), target, process.pid)
        wait_until(lambda: server.get() == 200, timeout=30)
        return server

    with ExitStack() as stack:
        yield started


def test_idle_clients_hold_at_most_the_cap_and_are_dropped_after_the_timeout(start: Start) -> None:
    server = start(socket_timeout_seconds=TIMEOUT, request_deadline_seconds=30)
    baseline = server.threads()
    # Below the cap, a real client is served beside idle ones.
    idle = [socket.create_connection(server.address) for _ in range(CAP - 1)]
    assert server.get() == 200
    for sock in idle:
        sock.close()
    wait_until(lambda: server.threads() <= baseline, timeout=10)

    idle = [socket.create_connection(server.address) for _ in range(IDLE_CLIENTS)]
    try:
        time.sleep(0.5)  # every thread started for them is running by now
        threads = server.threads() - baseline
        replies = [answer(sock, timeout=0.1) for sock in idle]
        refused_at_once = server.get()
        started = time.monotonic()
        dropped = [answer(sock, timeout=TIMEOUT + 5) for sock in idle[:CAP]]
        waited = time.monotonic() - started
    finally:
        for sock in idle:
            sock.close()
    assert threads <= CAP, f"{threads} threads for {IDLE_CLIENTS} idle connections"
    assert replies[:CAP] == [None] * CAP  # held, and still waited for
    assert all(reply and reply.startswith(b"HTTP/1.1 503 ") for reply in replies[CAP:]), replies[CAP:][:1]
    assert refused_at_once == 503
    assert dropped == [b""] * CAP and waited < TIMEOUT + 3, f"dropped after {waited:.1f} s: {dropped}"
    wait_until(lambda: server.get() == 200, timeout=10)
    wait_until(lambda: server.threads() <= baseline, timeout=10)


def test_a_trickling_request_is_cut_at_the_deadline(start: Start) -> None:
    deadline = 1.5
    server = start(socket_timeout_seconds=30, request_deadline_seconds=deadline)
    request = f"GET {server.target} HTTP/1.1\r\nHost: x\r\n".encode() + b"X-Slow: " + b"a" * 200
    sock = socket.create_connection(server.address)
    started = time.monotonic()
    cut = False
    try:
        for byte in request:  # a byte every 0.1 s, each well inside the socket timeout
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                cut = True
                break
            if answer(sock, timeout=0.1) is not None:  # closed (or answered)
                cut = True
                break
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    assert cut, "the whole trickled request went through"
    assert elapsed < deadline + 2, f"cut after {elapsed:.1f} s"
    assert server.get() == 200
