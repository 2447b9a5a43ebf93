"""The receiver against a RabbitMQ node of the test's own: stopped, or frozen so it withholds confirms.

These need rabbitmq-server installed but not the shared broker.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from support.paths import WEBHOOKS
from support.rabbit import PrivateNode, free_port
from support.runtime import Broker
from webhook_helpers import Client, drain, receiver_section, running, wait_until

from tickborg.config import Config, RabbitMQConfig, Secret
from tickborg.topology import EVALUATION_INPUTS

pytestmark = pytest.mark.private_broker

BODY = (WEBHOOKS / "pull_request.opened.json").read_bytes()


@pytest.fixture
def rabbitmq(private_node: PrivateNode) -> RabbitMQConfig:
    return RabbitMQConfig(
        port=private_node.port, password=Secret("guest", "test"), retry_base_seconds=0.2, retry_cap_seconds=1.0
    )


@pytest.fixture
def config_for(make_config: Callable[..., Config], rabbitmq: RabbitMQConfig, tmp_path: Path) -> Callable[..., Config]:
    def config(**receiver: object) -> Config:
        section = receiver_section(tmp_path, free_port(), **receiver)
        return make_config(rabbitmq=rabbitmq, github_webhook_receiver=section)

    return config


def message_ids(rabbitmq: RabbitMQConfig) -> list[str | None]:
    reader = Broker(rabbitmq)
    try:
        return [m.message_id for m in drain(reader.channel, EVALUATION_INPUTS)]
    finally:
        reader.close()


def beam_pid(node: PrivateNode) -> int:
    """The Erlang VM of `node`: the rabbitmq-server script's beam.smp child."""
    assert node.process is not None
    script = node.process.pid
    for child in Path(f"/proc/{script}/task/{script}/children").read_text().split():
        if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0].endswith(b"beam.smp"):
            return int(child)
    raise AssertionError(f"no beam.smp process under the rabbitmq-server script {script}")


@pytest.fixture
def frozen(private_node: PrivateNode) -> Iterator[Callable[[bool], None]]:
    """Freeze (SIGSTOP) or thaw the node: a frozen broker keeps its connections open and answers nothing."""
    pid = beam_pid(private_node)

    def freeze(stop: bool) -> None:
        os.kill(pid, signal.SIGSTOP if stop else signal.SIGCONT)

    yield freeze
    freeze(False)


def test_broker_outage_is_503_and_the_receiver_reconnects(
    config_for: Callable[..., Config], private_node: PrivateNode, rabbitmq: RabbitMQConfig
) -> None:
    with running(config_for()) as receiver:
        client = Client(receiver.address)
        assert client.post(BODY, delivery="before").status_code == 200

        private_node.stop()
        wait_until(lambda: client.health() == 503, timeout=10, what="health 503")
        started = time.monotonic()
        during = client.post(BODY, delivery="during")
        assert during.status_code == 503 and time.monotonic() - started < 1.0

        private_node.start()
        wait_until(lambda: client.health() == 200, timeout=20, what="health 200 again")
        assert client.post(BODY, delivery="after").status_code == 200
        client.close()

    assert message_ids(rabbitmq) == ["before", "after"]


def test_withheld_confirms_fill_a_bounded_window_and_health_says_so(
    config_for: Callable[..., Config], rabbitmq: RabbitMQConfig, frozen: Callable[[bool], None]
) -> None:
    window, confirm_timeout, extra = 3, 1.0, 2
    with running(config_for(max_unconfirmed_publishes=window, confirm_timeout_seconds=confirm_timeout)) as receiver:
        client = Client(receiver.address)
        assert client.post(BODY, delivery="before").status_code == 200
        frozen(True)
        try:
            answers: dict[str, tuple[int, float]] = {}

            def deliver(delivery: str) -> None:
                own = Client(receiver.address)
                started = time.monotonic()
                status = own.post(BODY, delivery=delivery).status_code
                answers[delivery] = (status, time.monotonic() - started)
                own.close()

            threads = [threading.Thread(target=deliver, args=(f"d{n}",)) for n in range(window + extra)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert {status for status, _ in answers.values()} == {503}
            waited = sorted(d for d, (_, took) in answers.items() if took >= confirm_timeout)
            refused_at_once = [d for d, (_, took) in answers.items() if took < confirm_timeout / 2]
            assert (len(waited), len(refused_at_once)) == (window, extra), answers
            assert client.health() == 503, "healthy while the broker withholds its confirms"
            started = time.monotonic()
            assert client.post(BODY, delivery="later").status_code == 503
            assert time.monotonic() - started < confirm_timeout / 2
        finally:
            frozen(False)
        # The broker confirms what it was sent: the window empties and the receiver is healthy again.
        wait_until(lambda: client.health() == 200, timeout=10, what="healthy again")
        assert client.post(BODY, delivery="after").status_code == 200
        client.close()

    # Those that waited did reach the broker (GitHub's redelivery makes duplicates of them).
    published = message_ids(rabbitmq)
    assert (published[0], sorted(published[1:-1]), published[-1]) == ("before", waited, "after")


def test_stop_answers_the_request_awaiting_its_confirm_and_closes_trickling_ones(
    config_for: Callable[..., Config], rabbitmq: RabbitMQConfig, frozen: Callable[[bool], None]
) -> None:
    with running(config_for(socket_timeout_seconds=30, request_deadline_seconds=30)) as receiver:
        trickling = socket.create_connection(receiver.address)
        trickling.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        client = Client(receiver.address)
        frozen(True)
        responses = []
        request = threading.Thread(target=lambda: responses.append(client.post(BODY, delivery="in-flight")))
        request.start()
        time.sleep(0.5)  # published; its confirm withheld
        stopping = threading.Thread(target=receiver.server.stop)
        stopping.start()
        trickling.settimeout(2)
        assert trickling.recv(4096) == b""  # closed at once, while the request in flight is waited for
        assert stopping.is_alive()
        frozen(False)
        stopping.join(3)
        assert not stopping.is_alive()
        request.join(3)
        trickling.close()
    assert (responses[0].status_code, responses[0].headers["Connection"]) == (200, "close")
    assert message_ids(rabbitmq) == ["in-flight"]
