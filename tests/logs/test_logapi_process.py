"""The collector and logapi as processes: a log published like a builder's is
served by logapi; both stop with exit status 0 on SIGTERM; a missing section exits 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from log_fleet import LogFleet
from logapi_support import Client
from logs_support import ATTEMPT, DOTTED_KEY, LINES, body, line, log_text, result, start
from support.config import base_config_data
from support.process import wait_until


def test_a_published_log_is_served_by_logapi(make_log_fleet: Callable[..., LogFleet]) -> None:
    fleet = make_log_fleet()
    client = Client(int(fleet.listen.rpartition(":")[2]))
    with fleet.run("log-message-collector"), fleet.run("logapi") as logapi:
        fleet.publish(DOTTED_KEY, body(start()))
        for number in reversed(range(1, len(LINES) + 1)):
            fleet.publish(DOTTED_KEY, body(line(number, LINES[number - 1])))
        fleet.publish(DOTTED_KEY, body(result()))

        def served() -> bool:
            try:
                reply = client.get(f"/logs/{DOTTED_KEY}/{ATTEMPT}")
            except OSError:  # not listening yet
                return False
            return reply.status == 200 and reply.headers["x-tickborg-finished"] == "yes"

        wait_until(served, timeout=30)
        assert client.get(f"/logs/{DOTTED_KEY}/{ATTEMPT}").body == log_text(LINES)
        listing = json.loads(client.get(f"/logs/{DOTTED_KEY}").body)
        assert listing["attempts"][ATTEMPT]["result"]["status"] == "Success"
        assert logapi.poll() is None


@pytest.mark.parametrize(
    "name, missing, present",
    [
        ("logapi", "logapi", {"log_storage": {"path": "/tmp/x"}}),
        ("logapi", "log_storage", {"logapi": {"listen": "127.0.0.1:1"}}),
        ("log-message-collector", "log_storage", {}),
    ],
)
def test_a_missing_section_exits_2_naming_it(tmp_path: Path, name: str, missing: str, present: dict[str, object]) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(base_config_data(**present)))
    done = subprocess.run(
        [sys.executable, "-m", "tickborg.cli", name, "--config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert missing in done.stderr and "Traceback" not in done.stderr


def test_logapi_exits_1_when_its_address_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.json"
        data = base_config_data(logapi={"listen": f"127.0.0.1:{port}"}, log_storage={"path": str(tmp_path / "logs")})
        config.write_text(json.dumps(data))
        done = subprocess.run(
            [sys.executable, "-m", "tickborg.cli", "logapi", "--config", str(config)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert done.returncode == 1
    assert "cannot listen" in done.stderr
