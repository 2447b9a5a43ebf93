"""A builder killed mid-build: another builder completes the job and the check run concludes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support.whole_fleet import MONOREPO, PROCESSES, running_flow
from support.paths import REPO
from support.process import tickborg_process, wait_until
from tickborg.config import RabbitMQConfig
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair

RUN = "libfoo on x86_64-linux"
# Slow enough to be killed in the middle.
SLOW_MAKEFILE = MONOREPO["libfoo/Makefile"].replace("\techo building libfoo\n", "\techo building libfoo\n\tsleep 6\n")


def test_a_builder_killed_mid_build_leaves_the_job_to_another(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> None:
    others = [name for name in PROCESSES if name != "builder"]
    with running_flow(rabbitmq_config, tmp_path, fake_github, github_app_key, others) as flow:
        with open(tmp_path / "first-builder.log", "ab") as log:
            first = subprocess.Popen(
                [sys.executable, "-m", "tickborg.cli", "builder", "--config", str(flow.config_path)],
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            title = "libfoo: slower"
            head = flow.create_pr({"libfoo/Makefile": SLOW_MAKEFILE}, title)
            flow.announce(head, title)
            wait_until(lambda: flow.runs(head).get(RUN, {}).get("status") == "in_progress", timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert flow.runs(head)[RUN]["status"] == "in_progress"  # the first builder never finished it
        with tickborg_process("builder", flow.config_path, tmp_path / "second-builder.log"):
            wait_until(lambda: flow.completed(head, RUN), timeout=90)
        runs = flow.runs(head)
        assert set(runs) == {RUN} and runs[RUN]["conclusion"] == "success"
