"""Run one build phase as its own process group (SPEC §9, §14).

stdout and stderr go, merged in order, to a spool file that this process
reads as it grows and passes on as lines: a chatty build writes at disk speed
and never waits on its reader (which shares the interpreter with the log
publisher). Bytes that are not UTF-8 are replaced, never fatal. The phase ends when its
command exits; then whatever it left running in its group is killed. When the
deadline passes, or `stop()` turns true (the job was cancelled, the log could
not be delivered), the whole group gets SIGTERM and, after `grace` seconds,
SIGKILL. The group is always reaped.
"""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

# A line longer than this is passed on in pieces rather than held in memory whole.
MAX_LINE_BYTES = 64 * 1024
READ_BYTES = 1024 * 1024
POLL_OUTPUT_SECONDS = 0.02
POLL_SECONDS = 0.1


class Ending(enum.Enum):
    EXITED = "exited"
    TIMED_OUT = "timed out"
    STOPPED = "stopped"


@attrs.frozen
class Outcome:
    ending: Ending
    # The command's exit status; negative: killed by that signal; None: it could not start.
    returncode: int | None

    @property
    def succeeded(self) -> bool:
        return self.ending is Ending.EXITED and self.returncode == 0


def run(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    on_lines: Callable[[list[str]], None],
    deadline: float,
    stop: Callable[[], bool],
    grace: float,
) -> Outcome:
    """Run `argv`, passing its output lines to `on_lines` as they come, until it exits or must end.

    `deadline` is on the `time.monotonic()` clock.
    """
    with tempfile.NamedTemporaryFile(prefix="tickborg-phase-", suffix=".log") as spool, open(spool.name, "rb") as output:
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=spool,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, which it leads
            )
        except OSError as exc:
            on_lines([f"cannot run {argv[0]}: {exc.strerror or exc}"])
            return Outcome(Ending.EXITED, None)
        watchdog = _Watchdog(process.pid, deadline, stop, grace)
        watchdog.start()
        lines = _Lines(on_lines)
        try:
            # Until the leader exits (not reaped: until then its pid, the group
            # id, cannot be reused, so killing the group is safe).
            while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                if not lines.feed(output.read(READ_BYTES)):
                    time.sleep(POLL_OUTPUT_SECONDS)
        finally:
            ending = watchdog.finish()
            _kill_group(process.pid, signal.SIGKILL)  # whatever it left behind
            process.wait()
        while lines.feed(output.read(READ_BYTES)):
            pass
        lines.end()
    return Outcome(ending, process.returncode)


class _Lines:
    """Bytes in, whole lines out; a line longer than MAX_LINE_BYTES goes out in pieces."""

    def __init__(self, on_lines: Callable[[list[str]], None]) -> None:
        self._on_lines = on_lines
        self._partial = b""

    def feed(self, chunk: bytes) -> bool:
        if not chunk:
            return False
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        while len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial[:MAX_LINE_BYTES])
            self._partial = self._partial[MAX_LINE_BYTES:]
        if lines:
            self._on_lines([_text(line) for line in lines])
        return True

    def end(self) -> None:
        """The last line, when the output did not end with a newline."""
        if self._partial:
            self._on_lines([_text(self._partial)])
            self._partial = b""


def _text(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", "replace")


class _Watchdog:
    """A thread that ends the group at the deadline or when told to stop."""

    def __init__(self, pid: int, deadline: float, stop: Callable[[], bool], grace: float) -> None:
        self.pid = pid
        self.deadline = deadline
        self.stop = stop
        self.grace = grace
        self.ending = Ending.EXITED
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="build-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> Ending:
        """The command is done (its leader exited); how it ended."""
        self._finished.set()
        self._thread.join()
        return self.ending

    def _watch(self) -> None:
        while not self._finished.wait(POLL_SECONDS):
            if time.monotonic() >= self.deadline:
                self.ending = Ending.TIMED_OUT
                break
            if self.stop():
                self.ending = Ending.STOPPED
                break
        else:
            return
        _kill_group(self.pid, signal.SIGTERM)
        if not self._finished.wait(self.grace):
            _kill_group(self.pid, signal.SIGKILL)


def _kill_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # nothing left in the group
