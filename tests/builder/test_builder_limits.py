"""Hostile builds through the builder and the real sandbox, on the real broker:
a fork bomb, a memory hog, a /tmp filler and a log flood each meet their limit
and the result says which; a build that traps SIGTERM gets its grace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builder_fleet import custom, lines_of, make_origin, pr_job, run_job
from procs import new_marker, sleeper, wait_for

from tickborg.config import RabbitMQConfig
from tickborg.messages import BuildResult, decode
from tickborg.reporter.render import finished_summary

pytestmark = pytest.mark.broker

MIB = 1024 * 1024
FORKER = """
import os, sys, time
count = 0
try:
    while count < 500:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        count += 1
except OSError as exc:
    print("fork refused after", count, exc.strerror)
    sys.exit(1)
print("forked", count)
"""


def hostile(
    rabbitmq: RabbitMQConfig, tmp_path: Path, command: str, files: dict[str, str] | None = None, **builder: Any
) -> tuple[dict[str, Any], list[str]]:
    """Build the custom project `hostile` running `command` in tools/: (its result, its log lines)."""
    origin = make_origin(tmp_path)
    head = origin.open_pr(40, "main", files or {"tools/x": "x\n"}, "hostile")
    project = custom("hostile", command, timeout_seconds=60)
    statusreport, logs = run_job(rabbitmq, tmp_path, pr_job(origin, 40, head, ["hostile"]), project, **builder)
    return statusreport[-1], lines_of(logs)


def test_a_fork_bomb_is_bounded(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    result, lines = hostile(
        rabbitmq_config, tmp_path, "python3 forker.py", {"tools/forker.py": FORKER}, limits={"processes": 64}
    )
    assert result["status"] == "Failure", result
    refused = next(line for line in lines if line.startswith("fork refused after"))
    assert int(refused.split()[3]) < 64
    assert result["output"][-1] == "=== hostile: build failed (exit status 1; process limit of 64 reached)"


def test_a_memory_hog_is_killed(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    hog = "python3 -c 'data = b\"x\" * (512 * 1024 * 1024); print(\"allocated\", len(data))'"
    result, lines = hostile(rabbitmq_config, tmp_path, hog, limits={"memory_bytes": 128 * MIB})
    assert result["status"] == "Failure", result
    assert not any(line.startswith("allocated") for line in lines)
    assert result["output"][-1].startswith("=== hostile: build failed (")
    assert result["output"][-1].endswith(f"; memory limit of {128 * MIB} bytes reached)")


def test_filling_tmp_is_refused(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    # /dev/shm is bounded the same way, and the rest of /dev (another tmpfs) is read-only.
    fill = "; ".join(f"dd if=/dev/zero of={path} bs=1M count=64" for path in ("/tmp/fill", "/dev/shm/fill", "/dev/fill"))
    result, lines = hostile(rabbitmq_config, tmp_path, fill, limits={"tmp_bytes": 16 * MIB})
    assert result["status"] == "Failure", result
    assert "dd: error writing '/tmp/fill': No space left on device" in lines
    assert "dd: error writing '/dev/shm/fill': No space left on device" in lines
    assert "dd: failed to open '/dev/fill': Read-only file system" in lines


def test_a_log_flood_is_stopped_at_the_limit_and_the_check_run_says_why(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    result, lines = hostile(rabbitmq_config, tmp_path, "yes | head -n 20000", limits={"log_lines": 1000})
    assert result["status"] == "Failure", result
    assert lines.count("y") == 1000  # exactly the limit passed on, nothing after it
    reason = "=== hostile: build stopped: log limit of 1000 lines reached"
    assert lines[-1] == reason and result["output"][-1] == reason
    assert reason in finished_summary(decode(BuildResult, json.dumps(result).encode()))


def test_the_log_byte_limit_counts_every_phase(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    # 600 lines of 1000 bytes in the build phase, as many again in the test phase: 1 MB in all.
    line = "python3 -c 'print(\"\\n\".join([\"x\" * 999] * 600))'"
    origin = make_origin(tmp_path)
    head = origin.open_pr(41, "main", {"tools/x": "x\n"}, "chatty")
    project = custom("chatty", line, test_command=["sh", "-c", line])
    statusreport, logs = run_job(
        rabbitmq_config, tmp_path, pr_job(origin, 41, head, ["chatty"]), project, limits={"log_bytes": 1_000_000}
    )
    result = statusreport[-1]
    assert result["status"] == "Failure", result
    assert result["output"][-1] == "=== chatty: test stopped: log limit of 1000000 bytes reached"
    assert sum(len(text) + 1 for text in lines_of(logs) if not text.startswith("===")) <= 1_000_000


def test_a_build_that_traps_sigterm_gets_its_grace_then_sigkill(rabbitmq_config: RabbitMQConfig, tmp_path: Path) -> None:
    marker = new_marker()
    stubborn = (
        "trap 'echo got TERM; sleep 0.5; echo cleaned up' TERM; echo started;"
        f" {sleeper(marker, ignore_term=True)} & wait; sleep 300"
    )
    origin = make_origin(tmp_path)
    head = origin.open_pr(42, "main", {"tools/x": "x\n"}, "stubborn")
    project = custom("stubborn", stubborn, timeout_seconds=2)
    statusreport, logs = run_job(
        rabbitmq_config, tmp_path, pr_job(origin, 42, head, ["stubborn"]), project, kill_grace_seconds=2
    )
    result = statusreport[-1]
    assert result["status"] == "TimedOut", result
    lines = lines_of(logs)
    assert lines[1:4] == ["started", "got TERM", "cleaned up"], lines  # the grace happened
    assert result["output"][-1] == "=== stubborn: build timed out after 2 s"
    assert wait_for(marker, present=False, timeout=5) == []  # SIGKILL ended what ignored the grace




@pytest.mark.parametrize("nice", [10, 0])
def test_a_phase_runs_at_the_configured_cpu_priority(rabbitmq_config: RabbitMQConfig, tmp_path: Path, nice: int) -> None:
    # A build cannot take its priority back: an unprivileged process may only lower its own.
    result, lines = hostile(rabbitmq_config, tmp_path, "echo niceness $(nice); renice -n -5 -p $$ >/dev/null 2>&1 || echo cannot raise", limits={"nice": nice})
    assert result["status"] == "Success", result
    assert f"niceness {nice}" in lines
    if nice:
        assert "cannot raise" in lines
