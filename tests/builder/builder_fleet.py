"""The builder's test world: a real local origin holding real projects, the
config naming them, a builder (in this process or as a process) and the broker.

(A module rather than a conftest.py: other test directories import the root
conftest by name, which a second conftest module would shadow.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.config import base_config_data
from support.gitrepo import Origin
from support.paths import REPO
from support.runtime import Broker, RunningWorker

from tickborg.builder.service import OUTPUTS, input_queues, log_publisher, wait_ready
from tickborg.builder.worker import Builder
from tickborg.checkout import Checkouts
from tickborg.config import Config, RabbitMQConfig, parse_config
from tickborg.messages import BuildJob, Pr, PushTrigger
from tickborg.topology import (
    BUILD_LOGS,
    BUILD_RESULTS_QUEUE,
    build_queue,
    build_topology,
)

SYSTEM = "x86_64-linux"
QUEUE = build_queue(SYSTEM)

HELLO_C = '#include <stdio.h>\nint main(void) { for (int i = 1; i <= 3; i++) printf("hello line %d\\n", i); return 0; }\n'
SOURCES = {
    # make: build, then `make check`
    "hello/hello.c": HELLO_C,
    "hello/Makefile": "hello: hello.c\n\tcc -o hello hello.c\ncheck: hello\n\t./hello\n",
    # cmake, with a ctest test
    "libfoo/CMakeLists.txt": (
        "cmake_minimum_required(VERSION 3.13)\nproject(libfoo C)\nenable_testing()\n"
        "add_executable(foo_test foo_test.c)\nadd_test(NAME foo_test COMMAND foo_test)\n"
    ),
    "libfoo/foo_test.c": '#include <stdio.h>\nint main(void) { puts("foo test ok"); return 0; }\n',
    # custom: a build script and a test command
    "app/build.sh": "echo building app\nfor i in $(seq 1 50); do echo app line $i; done\n",
    "app/test.sh": "echo app tests pass\n",
    # make, failing
    "broken/Makefile": "all:\n\techo about to fail\n\texit 7\ncheck:\n",
    # a directory for custom commands that the test sets
    "tools/README": "commands run here\n",
}
PROJECTS: list[dict[str, Any]] = [
    {"name": "hello", "path": "hello", "build_system": "make"},
    {"name": "libfoo", "path": "libfoo", "build_system": "cmake"},
    {"name": "app", "path": "app", "build_system": "custom", "command": "sh build.sh", "test_command": ["sh", "test.sh"]},
    {"name": "broken", "path": "broken", "build_system": "make"},
]


def config_data(rabbitmq: RabbitMQConfig, tmp_path: Path, *extra_projects: dict[str, Any], **builder: Any) -> dict[str, Any]:
    return base_config_data(
        rabbitmq,
        projects=[*PROJECTS, *extra_projects],
        builder={"systems": [SYSTEM], "log_tail_lines": 10, "kill_grace_seconds": 1, **builder},
        checkout={"root": str(tmp_path / "checkout")},
    )


def custom(name: str, command: str, **settings: Any) -> dict[str, Any]:
    """A custom project running `command` in the repository's tools/ directory."""
    return {"name": name, "path": "tools", "build_system": "custom", "command": command, **settings}


def make_origin(tmp_path: Path) -> Origin:
    origin = Origin(tmp_path / "git")
    origin.commit("main", SOURCES, "projects")
    return origin


def pr_job(origin: Origin, number: int, head_sha: str, attrs: list[str]) -> BuildJob:
    return BuildJob.for_pr(origin.repo(), Pr(target_branch="main", number=number, head_sha=head_sha), attrs)


def push_job(origin: Origin, branch: str, attrs: list[str]) -> BuildJob:
    return BuildJob.for_push(origin.repo(), PushTrigger(head_sha=origin.head(branch), branch=branch), attrs)


@contextmanager
def builder_in_process(config: Config) -> Iterator[RunningWorker]:
    """The builder's runtime and log publisher in threads of this process."""
    publisher = log_publisher(config, "builder-test")
    publisher.start()
    try:
        assert wait_ready(publisher, 20), "log publisher did not connect"
        checkout = config.require("checkout")
        queues = input_queues(config)
        topology = build_topology(config).select([*queues, *OUTPUTS])
        worker = Builder(config, publisher, Checkouts.for_process(checkout, "builder"))
        with RunningWorker(worker, config, tuple(queues), topology) as running:
            yield running
    finally:
        publisher.stop()


@contextmanager
def fleet(rabbitmq: RabbitMQConfig, tmp_path: Path, *projects: dict[str, Any], **builder: Any) -> Iterator[Broker]:
    """An in-process builder for the config with `projects` and `builder` settings, and a broker connection."""
    config = parse_config(config_data(rabbitmq, tmp_path, *projects, **builder))
    with builder_in_process(config), Broker(rabbitmq) as broker:
        yield broker


def run_job(
    rabbitmq: RabbitMQConfig, tmp_path: Path, job: BuildJob, *projects: dict[str, Any], **builder: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run `job` through an in-process builder: (build-results messages, build-logs messages), each up to the result."""
    with fleet(rabbitmq, tmp_path, *projects, **builder) as broker:
        broker.send(QUEUE, job.to_json())
        return read_all(broker, BUILD_RESULTS_QUEUE), read_all(broker, BUILD_LOGS)


def write_config(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


def builder_process(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`tickborg builder --config PATH` as a process of its own."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tickborg.cli", "builder", "--config", str(config_path)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def read_all(broker: Broker, queue: str, until_result: bool = True, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Messages of `queue` in order, until (and with) the first BuildResult."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no result on {queue} within {timeout} s; got {messages[-3:]}"
        messages.append(json.loads(broker.get(queue, timeout=remaining)[1]))
        if until_result and is_result(messages[-1]):
            return messages


def is_result(message: dict[str, Any]) -> bool:
    return "status" in message and "attempt_id" in message


def lines_of(logs: list[dict[str, Any]]) -> list[str]:
    """The log's lines, from single-line messages and chunks alike."""
    lines: list[str] = []
    for message in logs:
        if "line_number" in message:
            lines.append(message["output"])
        elif "first_line_number" in message:
            lines.extend(message["lines"])
    return lines
