"""The receiver's limits against slow or many clients, over real sockets, the real RabbitMQ behind."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from support.paths import WEBHOOKS
from support.rabbit import free_port
from support.sockets import answer
from webhook_helpers import SECRET, Client, receiver_section, running, wait_until

from tickborg.config import Config, RabbitMQConfig
from tickborg.webhook.signature import sign

pytestmark = pytest.mark.broker

BODY = (WEBHOOKS / "pull_request.opened.json").read_bytes()


@pytest.fixture
def config_for(
    make_config: Callable[..., Config], rabbitmq_config: RabbitMQConfig, tmp_path: Path
) -> Callable[..., Config]:
    def config(**receiver: Any) -> Config:
        section = receiver_section(tmp_path, free_port(), **receiver)
        return make_config(rabbitmq=rabbitmq_config, github_webhook_receiver=section)

    return config


def head(length: int, body: bytes = BODY) -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nX-GitHub-Event: pull_request\r\n"
        f"X-Hub-Signature-256: {sign(SECRET, body)}\r\n\r\n"
    ).encode()


def test_connections_beyond_the_bound_get_503_at_once_and_threads_stay_bounded(
    config_for: Callable[..., Config],
) -> None:
    bound, clients = 20, 60
    with running(config_for(max_connections=bound, socket_timeout_seconds=30, request_deadline_seconds=30)) as rx:
        threads_before = threading.active_count()
        connections: list[socket.socket] = []
        try:
            for _ in range(clients):
                connections.append(socket.create_connection(rx.address))
                connections[-1].sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            time.sleep(0.5)  # every thread started for them is running by now
            threads = threading.active_count() - threads_before
            replies = [answer(sock, timeout=0.1) for sock in connections]
        finally:
            for sock in connections:
                sock.close()
        assert threads <= bound, f"{threads} threads for {clients} connections"
        assert replies[:bound] == [None] * bound  # still waited for
        refused = replies[bound:]
        assert all(reply and reply.startswith(b"HTTP/1.1 503 ") for reply in refused), refused[:1]
        # Once those clients are gone, their places are free again.
        client = Client(rx.address)
        wait_until(lambda: client.post(BODY).status_code == 200, timeout=5, what="a place free again")
        client.close()


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_request_is_cut_at_the_deadline(config_for: Callable[..., Config], phase: str) -> None:
    deadline = 1.0
    request = head(len(BODY)) + BODY
    split = request.index(b"\r\n\r\n") + 4 + 100
    with running(config_for(socket_timeout_seconds=30, request_deadline_seconds=deadline)) as rx:
        sock = socket.create_connection(rx.address)
        started = time.monotonic()
        if phase == "body":
            sock.sendall(request[:split])  # the headers at once, then the body a byte at a time
        position = split if phase == "body" else 0
        reply = None
        sock.settimeout(0.1)
        try:
            while time.monotonic() - started < deadline + 4 and position < len(request):
                try:
                    sock.sendall(request[position : position + 1])
                except OSError:  # cut off
                    break
                position += 1
                try:
                    reply = sock.recv(4096)
                    break
                except TimeoutError:
                    continue
            if reply is None:
                reply = answer(sock, timeout=1)
        finally:
            sock.close()
        elapsed = time.monotonic() - started
    assert position < len(request), "the whole request went through"
    assert elapsed < deadline + 1, f"cut after {elapsed:.1f} s"
    if phase == "body":
        assert reply.startswith(b"HTTP/1.1 408 "), reply
    else:
        assert reply in (b"", None) or reply.startswith(b"HTTP/1.1 408 "), reply


def test_unverified_bodies_share_a_memory_budget(config_for: Callable[..., Config]) -> None:
    budget = 1024 * 1024
    large = BODY + b" " * (400 * 1024 - len(BODY))  # still the signed JSON payload
    with running(config_for(max_unverified_body_bytes=budget, request_deadline_seconds=30)) as rx:
        client = Client(rx.address)
        waiting = []
        try:
            for _ in range(2):  # 800 KiB promised and not yet sent
                sock = socket.create_connection(rx.address)
                sock.sendall(head(len(large), large) + large[:1000])
                waiting.append(sock)
            time.sleep(0.3)
            started = time.monotonic()
            third = socket.create_connection(rx.address)
            third.sendall(head(len(large), large))
            refused = answer(third, timeout=3)
            third.close()
            assert refused is not None and refused.startswith(b"HTTP/1.1 503 "), refused
            assert time.monotonic() - started < 1
            assert client.post(BODY).status_code == 200  # a small one still fits
            too_large = socket.create_connection(rx.address)
            too_large.sendall(head(budget + 1))
            assert (answer(too_large, timeout=3) or b"").startswith(b"HTTP/1.1 413 ")
            too_large.close()
        finally:
            for sock in waiting:
                sock.close()
        wait_until(lambda: client.post(large).status_code == 200, timeout=5, what="budget released")
        client.close()
