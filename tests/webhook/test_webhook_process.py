"""The receiver as operators run it: a process, stopped by a signal, refusing a bad config."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.config import base_config_data
from support.paths import REPO, WEBHOOKS
from support.rabbit import free_port
from support.runtime import Broker
from webhook_helpers import SECRET, Client, drain, receiver_section, wait_until

from tickborg.config import RabbitMQConfig
from tickborg.topology import EVALUATION_INPUTS
from tickborg.webhook.signature import sign

BODY = (WEBHOOKS / "pull_request.synchronize.json").read_bytes()
MODULE = [sys.executable, "-m", "tickborg.workers.github_webhook_receiver"]
CLI = [sys.executable, "-m", "tickborg.cli", "github-webhook-receiver"]


def write_config(directory: Path, data: dict) -> Path:
    path = directory / "config.json"
    path.write_text(json.dumps(data))
    return path


def launch(command: list[str], config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command, "--config", str(config)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.broker
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_waiting_connections_at_once_and_exits_0(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path, signum: signal.Signals
) -> None:
    # A request whose confirm is awaited is answered first: see test_webhook_server and
    # test_webhook_private_broker. One still arriving is not waited for.
    port = free_port()
    data = base_config_data(rabbitmq_config, github_webhook_receiver=receiver_section(tmp_path, port))
    process = launch(MODULE, write_config(tmp_path, data))
    try:
        idle = Client(("127.0.0.1", port))
        wait_until(lambda: idle.health() == 200, timeout=15, what="receiver healthy")  # and now idle, kept alive
        assert idle.post(BODY, delivery="before").status_code == 200

        arriving = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = (
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\nX-GitHub-Event: pull_request\r\n"
            f"X-GitHub-Delivery: arriving\r\nX-Hub-Signature-256: {sign(SECRET, BODY)}\r\n\r\n"
        )
        arriving.sendall(head.encode() + BODY[:1000])
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signum)
        response = arriving.recv(4096)
        assert process.wait(timeout=5) == 0
        stopped_after = time.monotonic() - started
    finally:
        process.kill()
        process.wait()
    assert response.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in response
    assert stopped_after < 2
    broker = Broker(rabbitmq_config)
    assert [m.message_id for m in drain(broker.channel, EVALUATION_INPUTS)] == ["before"]
    broker.close()


@pytest.mark.parametrize("command", [MODULE, CLI], ids=["module", "cli"])
def test_a_config_without_the_section_exits_2_naming_it(tmp_path: Path, command: list[str]) -> None:
    process = launch(command, write_config(tmp_path, base_config_data()))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "github_webhook_receiver" in lines[0], stderr


def test_an_address_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = base_config_data(github_webhook_receiver=receiver_section(tmp_path, port))
        process = launch(MODULE, write_config(tmp_path, data))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "cannot listen" in stderr
