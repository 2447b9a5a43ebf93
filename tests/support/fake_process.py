"""The fake GitHub run as a process (`python -m tickborg.fakegithub`), as the demo runs it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from support.rabbit import free_port


def start_fake_github(
    python: str, app_id: int, public_key: Path, repo: str, cwd: Path
) -> tuple[subprocess.Popen[str], str]:
    """The process (its output on stdout) and its URL, once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "tickborg.fakegithub", "--port", str(port), "--app-id", str(app_id)]
        + ["--public-key", str(public_key), "--repo", repo],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/_fake/violations", timeout=2)
            return process, url
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output, _ = process.communicate()
                raise AssertionError(f"the fake GitHub did not start:\n{output}") from None
            time.sleep(0.05)
