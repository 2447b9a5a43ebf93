"""A full disk under the collector (a 1 MiB tmpfs): it keeps running, retries
rather than dead-letters, and stores everything once space returns."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from log_fleet import LogFleet
from logs_support import ATTEMPT, PR_KEY, body, line, log_text, result, start
from support.process import wait_until
from tickborg.logs.layout import Layout
from tickborg.topology import BUILD_LOGS, dead_queue


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "logs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"this test mounts a tmpfs (needs root): {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_is_retried_and_storing_resumes_when_space_returns(
    make_log_fleet: Callable[..., LogFleet], small_disk: Path
) -> None:
    # Retries come back within the cap (2 s): plenty of attempts before the space returns.
    fleet = make_log_fleet(root=small_disk, delivery_limit=100)
    filler = fill(small_disk)
    lines = [f"line {n} " + "x" * 100 for n in range(1, 81)]
    files = Layout(small_disk).attempt(PR_KEY, ATTEMPT)
    with fleet.run("log-message-collector") as process:
        fleet.publish(PR_KEY, body(start()))
        for number in range(1, 41):
            fleet.publish(PR_KEY, body(line(number, lines[number - 1])))
        log = fleet.process_log("log-message-collector")
        wait_until(lambda: "case=storage_unavailable" in log.read_text() and "ENOSPC" in log.read_text(), timeout=30)
        assert process.poll() is None
        assert fleet.broker.count(dead_queue(BUILD_LOGS)) == 0

        filler.unlink()  # space returns
        for number in range(41, 81):
            fleet.publish(PR_KEY, body(line(number, lines[number - 1])))
        fleet.publish(PR_KEY, body(result()))
        wait_until(
            lambda: files.metadata.exists() and files.result.exists() and files.log.read_bytes() == log_text(lines),
            timeout=60,
        )
        assert fleet.broker.count(dead_queue(BUILD_LOGS)) == 0
        assert process.poll() is None
