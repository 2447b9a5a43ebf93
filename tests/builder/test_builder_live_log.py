"""A running build's log, live: each line the build prints is served by logapi
(`?from_byte=`, what the live page polls) within a second, while the build
still runs. Real builder, collector and logapi, the real broker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from builder_fleet import QUEUE, builder_in_process, config_data, custom, make_origin, pr_job, write_config

from logs.logapi_support import Client
from support.process import tickborg_process
from support.rabbit import free_port
from support.runtime import Broker
from tickborg.config import RabbitMQConfig, parse_config

pytestmark = pytest.mark.broker

# Three lines, each with the time it was printed, a second and a half apart: far
# below a chunk's 64 KiB, so only the chunk's time bound sends them.
TICKS = 'for i in 1 2 3; do echo "tick $i $(date +%s.%N)"; sleep 1.5; done'


def test_a_running_builds_lines_are_served_within_a_second(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    listen = f"127.0.0.1:{free_port()}"
    data = config_data(rabbitmq_config, tmp_path, custom("ticks", TICKS))
    data.update(log_storage={"path": str(tmp_path / "logs")}, logapi={"listen": listen})
    config_path = write_config(data, tmp_path / "config.json")
    client = Client(int(listen.rpartition(":")[2]))
    origin = make_origin(tmp_path)
    head = origin.open_pr(5, "main", {"tools/NOTES": "x\n"}, "tools")
    key = f"{origin.repo().full_name.lower()}.5"
    seen: dict[str, float] = {}
    with (
        builder_in_process(parse_config(data)),
        tickborg_process("log-message-collector", config_path, tmp_path / "collector.log"),
        tickborg_process("logapi", config_path, tmp_path / "logapi.log"),
        Broker(rabbitmq_config) as broker,
    ):
        broker.send(QUEUE, pr_job(origin, 5, head, ["ticks"]).to_json())
        offset, finished, deadline = 0, False, time.monotonic() + 60
        while not finished and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                attempts = json.loads(client.get(f"/logs/{key}").body)["attempts"]
            except (OSError, ValueError, KeyError):
                continue  # logapi not up yet, or no attempt yet
            if not attempts:
                continue
            [attempt] = attempts
            reply = client.get(f"/logs/{key}/{attempt}?from_byte={offset}")
            now = time.time()
            offset += len(reply.body)
            for line in reply.body.decode().splitlines():
                if line.startswith("tick "):
                    seen[line] = now
            finished = reply.headers["x-tickborg-finished"] == "yes"
    assert finished, (tmp_path / "collector.log").read_text()[-2000:]
    assert len(seen) == 3, seen
    for line, at in seen.items():
        printed = float(line.split()[2])
        assert at - printed < 1.0, f"{line!r} served {at - printed:.2f} s after it was printed"
