"""A `tickborg <name>` process for the length of a test, and waiting for what it does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from support.paths import REPO


def spawn(name: str, config_path: Path, log_path: Path, options: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """`tickborg <name> --config PATH [options]` started, its stderr appended to `log_path`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tickborg.cli", name, "--config", str(config_path), *options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


@contextmanager
def tickborg_process(
    name: str, config_path: Path, log_path: Path, options: Sequence[str] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """`tickborg <name> --config PATH [options]` until the block ends; then SIGTERM, which must exit 0."""
    process = spawn(name, config_path, log_path, options)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"{name} exited {process.returncode}:\n{log_path.read_text()[-4000:]}"


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
