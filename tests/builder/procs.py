"""Finding a test build's processes by a marker in their command line."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def new_marker() -> str:
    return f"tickborg-test-marker-{uuid.uuid4().hex[:12]}"


def sleeper(marker: str, ignore_term: bool = False) -> str:
    """A shell command: a process that sleeps for 5 minutes with `marker` in its command line."""
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if ignore_term else ""
    return f"python3 -c 'import signal, time; {ignore}time.sleep(300)' {marker}"


def with_marker(marker: str) -> list[int]:
    """Live (not zombie) pids whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(marker: str, present: bool, timeout: float = 20.0) -> list[int]:
    """Wait until processes with `marker` exist (or are all gone); the last pids seen."""
    deadline = time.monotonic() + timeout
    while True:
        pids = with_marker(marker)
        if bool(pids) == present or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)
