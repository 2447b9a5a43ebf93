"""The log-message-collector: build log messages from `build-logs` onto disk (SPEC §5, §10).

Its ack policy is the one table below. The routing key is the log key; it
and the attempt id become paths, so both are checked first.
"""

from __future__ import annotations

import errno
import time
from enum import Enum, auto
from typing import Any, Mapping

import attrs

from tickborg import messages
from tickborg.filters.policy import Decision, Verdict, enact
from tickborg.logs.layout import AttemptFiles, Layout
from tickborg.logs.paths import InvalidPath
from tickborg.logs.writer import LogWriter
from tickborg.messages import BuildLogChunk, BuildLogMsg, BuildLogStart, BuildResult
from tickborg.runtime.actions import Action
from tickborg.runtime.worker import SimpleWorker

NAME = "log-message-collector"
# A line number past this is garbage, not a log: filling the gap before it would fill the disk.
MAX_LINE_NUMBER = 10_000_000

LogMessage = BuildLogMsg | BuildLogChunk | BuildLogStart | BuildResult


class Case(Enum):
    UNDECODABLE = auto()
    BAD_PATH = auto()
    BAD_LINE_NUMBER = auto()
    STARTED = auto()
    LINE = auto()
    FINISHED = auto()
    LINES_MISSING = auto()
    STORAGE_UNAVAILABLE = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.BAD_PATH: Verdict.NACK_DUMP,  # a key or attempt id that must not become a path
    Case.BAD_LINE_NUMBER: Verdict.NACK_DUMP,  # 0, or absurdly large
    Case.STARTED: Verdict.ACK,  # metadata written
    # A line, or a chunk's lines, at its place (parked until the lines before it come; after the result, at the end):
    Case.LINE: Verdict.ACK,
    Case.FINISHED: Verdict.ACK,  # result written, the log completed
    Case.LINES_MISSING: Verdict.NACK_REQUEUE,  # lines parked behind a gap: back once they had time to come
    Case.STORAGE_UNAVAILABLE: Verdict.NACK_REQUEUE,  # disk full, read-only, not writable
}

# One of these per build line (or chunk): logged at debug, or the collector's log would be every build's log again.
ROUTINE = frozenset({Case.LINE})


@attrs.frozen
class Incoming:
    key: str
    message: LogMessage


@attrs.frozen
class _LogMessage:
    """Told apart by their keys: only a line has `line_number`, only a chunk
    `first_line_number`, only a result `request_id`."""

    def from_json(self, value: Any) -> LogMessage:
        if isinstance(value, dict) and "line_number" in value:
            return BuildLogMsg.from_json(value)
        if isinstance(value, dict) and "first_line_number" in value:
            return BuildLogChunk.from_json(value)
        if isinstance(value, dict) and "request_id" in value:
            return BuildResult.from_json(value)
        return BuildLogStart.from_json(value)


class LogCollector(SimpleWorker[Incoming]):
    name = NAME

    def __init__(self, layout: Layout, gap_wait_seconds: float, writer: LogWriter | None = None) -> None:
        """A result that finds lines parked behind a gap waits `gap_wait_seconds` for the
        lines before them (back from a retry, say); 0: it never waits."""
        self.layout = layout
        self.writer = writer or LogWriter()
        self.gap_wait_seconds = gap_wait_seconds

    def decode(self, routing_key: str, content_type: str | None, body: bytes) -> Incoming:
        return Incoming(routing_key, messages.decode(_LogMessage(), body))

    def handle(self, job: Incoming) -> list[Action]:
        return enact(POLICY, self.decide(job), quiet=ROUTINE)

    def before_ack(self) -> None:
        # An OSError here (a failing disk) sends the batch back to the broker unacked.
        self.writer.sync()

    def decide(self, job: Incoming) -> Decision[Case]:
        try:
            files = self.layout.attempt(job.key, job.message.attempt_id)
        except InvalidPath as exc:
            return Decision(Case.BAD_PATH, reason=str(exc))
        try:
            return self.store(files, job.message)
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, "error")
            return Decision(Case.STORAGE_UNAVAILABLE, reason=f"{name}: {exc.strerror or exc}")

    def store(self, files: AttemptFiles, message: LogMessage) -> Decision[Case]:
        if isinstance(message, (BuildLogMsg, BuildLogChunk)):
            first, lines = _numbered(message)
            if not (1 <= first and first + len(lines) - 1 <= MAX_LINE_NUMBER):
                return Decision(Case.BAD_LINE_NUMBER)
            self.writer.lines(files, first, lines)
            return Decision(Case.LINE)
        if isinstance(message, BuildLogStart):
            self.writer.start(files, message.to_json())
            return Decision(Case.STARTED)
        due = self.writer.result(files, message.to_json(), time.time(), self.gap_wait_seconds)
        if due is not None:
            return Decision(Case.LINES_MISSING, reason="lines before parked ones still missing", not_before=due)
        return Decision(Case.FINISHED)

    def log_context(self, job: Incoming) -> Mapping[str, Any]:
        return {"log_key": job.key, "attempt_id": job.message.attempt_id, "system": job.message.system}


def _numbered(message: BuildLogMsg | BuildLogChunk) -> tuple[int, tuple[str, ...]]:
    """The first line's number and the lines."""
    if isinstance(message, BuildLogMsg):
        return message.line_number, (message.output,)
    return message.first_line_number, message.lines
