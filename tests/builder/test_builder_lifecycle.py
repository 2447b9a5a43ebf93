"""The builder as a process: refusing to start, a builder killed mid-build
whose job another completes, and a cancelled build killed with its group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builder_fleet import (
    PROJECTS,
    QUEUE,
    builder_in_process,
    builder_process,
    config_data,
    custom,
    make_origin,
    pr_job,
    read_all,
    write_config,
)
from procs import new_marker, wait_for
from support.config import base_config_data
from support.paths import REPO
from support.runtime import Broker

from tickborg.broker import declare
from tickborg.config import RabbitMQConfig, parse_config
from tickborg.topology import BUILD_RESULTS_QUEUE, build_topology


def start_builder(config: dict[str, Any], tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    path = write_config(config, tmp_path / "config.json")
    return subprocess.run(
        [sys.executable, "-m", "tickborg.cli", "builder", "--config", str(path)],
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("builder", "project", "key"),
    [
        ({"build_timeout_seconds": 1790, "kill_grace_seconds": 10}, {}, "builder.build_timeout_seconds"),
        ({"broker_consumer_timeout_seconds": 600, "build_timeout_seconds": 60}, {"timeout_seconds": 595}, "projects[4].timeout_seconds"),
    ],
    ids=["default-timeout", "project-timeout"],
)
def test_refuses_to_start_unless_timeout_and_grace_are_below_the_consumer_timeout(
    tmp_path: Path, builder: dict[str, Any], project: dict[str, Any], key: str
) -> None:
    data = base_config_data(
        projects=[*PROJECTS, {"name": "big", "path": "big", "build_system": "make", **project}],
        builder={"systems": ["x86_64-linux"], **builder},
        checkout={"root": str(tmp_path / "checkout")},
    )
    done = start_builder(data, tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tickborg: configuration error: {key}: "), done.stderr
    assert "builder.broker_consumer_timeout_seconds" in lines[0] and "Traceback" not in done.stderr


def test_refuses_to_start_without_bubblewrap(tmp_path: Path) -> None:
    data = base_config_data(builder={"systems": ["x86_64-linux"]}, checkout={"root": str(tmp_path / "checkout")})
    done = start_builder(data, tmp_path, env={"PATH": str(tmp_path / "empty")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["tickborg: builder.sandbox: bwrap is not installed (Debian package bubblewrap)"]


@pytest.mark.broker
def test_a_builder_killed_mid_build_leaves_the_job_to_another(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    marker = new_marker()
    origin = make_origin(tmp_path)
    head = origin.open_pr(30, "main", {"tools/x": "x\n"}, "slow")
    slow = custom("slow", f"echo started; python3 -c 'import time; time.sleep(4)' {marker}; echo finished")
    path = write_config(config_data(rabbitmq_config, tmp_path, slow), tmp_path / "config.json")
    job = pr_job(origin, 30, head, ["slow"])
    first = builder_process(path, tmp_path / "first.log")
    try:
        with Broker(rabbitmq_config) as broker:
            declare(broker.channel, build_topology(parse_config(json.loads(path.read_text()))))
            broker.send(QUEUE, job.to_json())
            assert wait_for(marker, present=True, timeout=60), "the first build did not start"
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            # bubblewrap's --die-with-parent: the build goes with its builder.
            assert wait_for(marker, present=False, timeout=10) == []
            second = builder_process(path, tmp_path / "second.log")
            try:
                messages = read_all(broker, BUILD_RESULTS_QUEUE)
            finally:
                second.terminate()
                assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    starts, result = messages[:-1], messages[-1]
    assert result["status"] == "Success", result
    assert result["output"][-1] == "finished"
    # The first attempt announced itself too; the job was completed by a second attempt.
    assert len({m["attempt_id"] for m in starts}) == 2 and result["attempt_id"] == starts[-1]["attempt_id"]


@pytest.mark.broker
def test_a_cancelled_build_is_killed_and_its_job_handed_back(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    marker = new_marker()
    origin = make_origin(tmp_path)
    head = origin.open_pr(31, "main", {"tools/x": "x\n"}, "slow")
    slow = custom("slow", f"python3 -c 'import time; time.sleep(300)' {marker}")
    config = parse_config(config_data(rabbitmq_config, tmp_path, slow))
    with Broker(rabbitmq_config) as broker:
        with builder_in_process(config):
            broker.send(QUEUE, pr_job(origin, 31, head, ["slow"]).to_json())
            assert wait_for(marker, present=True, timeout=60)
        # Stopping the builder (as SIGTERM does) cancels the job: its build is killed, the job goes back.
        assert wait_for(marker, present=False, timeout=10) == []
        assert broker.count(QUEUE) == 1
        assert broker.count(BUILD_RESULTS_QUEUE) == 1  # the announced start only
