"""Log messages as a builder sends them, for the log tests."""

from __future__ import annotations

import json
from typing import Any

from tickborg.messages import BuildLogChunk, BuildLogMsg, BuildLogStart, BuildResult, BuildStatus, Pr, Repo

SYSTEM = "x86_64-linux"
IDENTITY = "builder-1"
ATTEMPT = "0f8fad5b-d9cb-469f-a165-70867728950e"
PR_KEY = "tick-org/monorepo.42"
PUSH_KEY = "tick-org/monorepo.push.main"
DOTTED_KEY = "acme/site.github.io.7"
# What builds print: unicode, tabs, carriage returns, empty lines, long lines.
LINES = [
    "-- The C compiler identification is GNU 12.2.0",
    "",
    "\tindented with a tab",
    "progress 10%\rprogress 100%",
    "naïve ✓ 日本語",
    "x" * 5000,
    "[ 50%] Building C object CMakeFiles/foo.dir/foo.c.o",
    "",
    "done",
]


def log_text(lines: list[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def start(attempt_id: str = ATTEMPT) -> BuildLogStart:
    return BuildLogStart(SYSTEM, IDENTITY, attempt_id, ("libfoo",), ())


def line(number: int, text: str, attempt_id: str = ATTEMPT) -> BuildLogMsg:
    return BuildLogMsg(SYSTEM, IDENTITY, attempt_id, number, text)


def chunk(first: int, texts: list[str], attempt_id: str = ATTEMPT) -> BuildLogChunk:
    return BuildLogChunk(SYSTEM, IDENTITY, attempt_id, first, tuple(texts))


def result(attempt_id: str = ATTEMPT, status: BuildStatus = BuildStatus.SUCCESS) -> BuildResult:
    repo = Repo("tick-org", "monorepo", "tick-org/monorepo", "https://github.com/tick-org/monorepo.git")
    return BuildResult(repo, Pr("main", 42, "c0ffee" + "0" * 34), SYSTEM, ("done",), attempt_id, "req-1", status, (), ("libfoo",))


def body(message: Any) -> bytes:
    return json.dumps(message.to_json()).encode()
