"""`python -m tickborg.cli demo` as a real process, its output read as it comes,
and what it may have left behind: processes carrying its marker, its vhost, its temp dir."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from support.paths import REPO
from support.rabbit import ctl
from tickborg.demo.run import MARKER_ENV

_ROOT = re.compile(r"^tickborg demo in (\S+)$")
_VHOST = re.compile(r"^RabbitMQ vhost (\S+) on ")


class DemoProcess:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tickborg.cli", "demo", *args],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _found(self, pattern: re.Pattern[str]) -> str:
        return next(m.group(1) for m in map(pattern.match, self.lines) if m)

    @property
    def root(self) -> Path:
        return Path(self._found(_ROOT))

    @property
    def vhost(self) -> str:
        return self._found(_VHOST)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(line) for line in list(self.lines)):
            assert self.process.poll() is None, f"the demo exited {self.process.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"no such line in time:\n{self.output}"
            time.sleep(0.05)

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 150.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self._reader.join(10)
        return code


def marked_processes(root: Path) -> list[str]:
    """Live processes whose environment carries the demo's marker for this run."""
    marker = f"{MARKER_ENV}={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


def vhosts() -> set[str]:
    return set(ctl("list_vhosts", "--quiet", "--no-table-headers").split())


def assert_nothing_left(demo: DemoProcess, but_logs: bool = False) -> None:
    """No process, no vhost, no temp dir — or, after a failure, only its process logs."""
    root = demo.root
    assert marked_processes(root) == []
    assert demo.vhost not in vhosts()
    if but_logs:
        assert f"process logs kept in {root / 'logs'}" in demo.lines
        assert [p.name for p in root.iterdir()] == ["logs"]
    else:
        assert not root.exists()
