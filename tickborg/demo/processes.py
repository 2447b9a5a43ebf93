"""The demo's child processes: each in its own process group, its output in a log file.

Stopping is the same whatever happened before: SIGTERM to every group, a
grace period, then SIGKILL to whatever is left. Children also get SIGTERM
from the kernel if the demo itself dies without cleaning up.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence

import attrs

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@attrs.frozen
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def exited(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Children:
    """Every process the demo started, in start order."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.started: list[Child] = []

    def start(self, name: str, argv: Sequence[str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                list(argv),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the demo only; it stops them in order
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path)
        self.started.append(child)
        return child

    def first_dead(self) -> Child | None:
        return next((child for child in self.started if child.exited() is not None), None)

    def stop(self, grace_seconds: float = 15.0) -> list[Child]:
        """SIGTERM every group, wait up to `grace_seconds`, SIGKILL the rest; those that needed it."""
        for child in reversed(self.started):
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for child in self.started:
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                pass
        killed = [child for child in self.started if child.exited() is None]
        for child in self.started:
            # Also the leftovers of a group whose leader already exited.
            _signal_group(child, signal.SIGKILL)
        for child in killed:
            child.process.wait()
        return killed


def _signal_group(child: Child, signum: int) -> None:
    try:
        os.killpg(child.process.pid, signum)
    except ProcessLookupError:
        pass
