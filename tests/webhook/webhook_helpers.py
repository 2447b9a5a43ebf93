"""Helpers for the webhook tests: a signing client, raw HTTP, reading the broker, waiting.

(A module of its own rather than a conftest.py: other test directories import
the root conftest by name, which a second conftest module would shadow.)
"""

from __future__ import annotations

import http.client
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs
import requests

from tickborg.config import Config
from tickborg.webhook.receiver import Receiver, build
from tickborg.webhook.signature import sign

SECRET = b"webhook-test-secret"


def write_secret(directory: Path) -> Path:
    path = directory / "webhook-secret"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


def receiver_section(directory: Path, port: int, **settings: Any) -> dict[str, Any]:
    return {"listen": f"127.0.0.1:{port}", "webhook_secret_file": str(write_secret(directory)), **settings}


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)


@contextmanager
def running(config: Config) -> Iterator[Receiver]:
    """A receiver serving in this process, its broker channel up."""
    receiver = build(config)
    receiver.start()
    try:
        wait_until(lambda: receiver.publisher.ready, what="receiver ready")
        yield receiver
    finally:
        receiver.stop()


class Client:
    """GitHub as a client: signed POSTs over one keep-alive session."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.url = f"http://{address[0]}:{address[1]}"
        self.session = requests.Session()

    def post(
        self,
        body: bytes,
        event: str | None = "pull_request",
        delivery: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> requests.Response:
        sent = {"Content-Type": "application/json"}
        if signed:
            sent["X-Hub-Signature-256"] = sign(SECRET, body)
        if event is not None:
            sent["X-GitHub-Event"] = event
        if delivery is not None:
            sent["X-GitHub-Delivery"] = delivery
        sent.update(headers or {})
        return self.session.post(self.url + "/", data=body, headers=sent, timeout=15)

    def health(self) -> int:
        try:
            return self.session.get(self.url + "/health", timeout=5).status_code
        except requests.ConnectionError:
            return 0

    def close(self) -> None:
        self.session.close()


@attrs.frozen
class RawResponse:
    status: int
    body: bytes
    closed: bool  # the server closed the connection after answering


def raw_request(address: tuple[str, int], data: bytes, timeout: float = 5.0) -> RawResponse:
    """Send `data` as it is (perhaps an incomplete request) and read one response."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        try:
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True
        return RawResponse(response.status, body, closed)


@attrs.frozen
class Received:
    routing_key: str
    message_id: str | None
    content_type: str | None
    delivery_mode: int | None
    body: bytes


def drain(channel: Any, queue: str) -> list[Received]:
    """Every message now in `queue`, in order (taken off the queue)."""
    received = []
    while True:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return received
        received.append(Received(method.routing_key, props.message_id, props.content_type, props.delivery_mode, body))
