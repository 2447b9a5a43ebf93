"""Run one build phase as its own process group, under its limits (SPEC §9, §14).

stdout and stderr go, merged in order, to a spool file that this process
reads as it grows and passes on as lines: a chatty build writes at disk speed
and never waits on its reader (which shares the interpreter with the log
publisher). Bytes that are not UTF-8 are replaced, never fatal. The phase ends when its
command exits; then whatever it left running is killed. When the deadline
passes, or `stop()` turns true (the job was cancelled, the log could not be
delivered), every process of the phase gets SIGTERM and, after `grace`
seconds, SIGKILL; from then on at most AFTER_END_LINES more lines are passed
on, and none once the phase is dead. Past its log budget the phase is killed
at once (a grace would only let it write more to the spool): what it wrote
within the budget is passed on, the rest dropped, and the limit it passed is
named when it is seen, by the reader or the watchdog, whichever sees it first.
Everything is always reaped.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

from tickborg.builder.confine import Confinement, Scope

# A line longer than this is passed on in pieces rather than held in memory whole.
MAX_LINE_BYTES = 64 * 1024
# Read at a time: small enough that a stop is seen between reads of very short lines.
READ_BYTES = 64 * 1024
POLL_OUTPUT_SECONDS = 0.02
POLL_SECONDS = 0.1
# Lines passed on after a stop or the deadline: what a build says while it winds up, not a flood.
AFTER_END_LINES = 1000


class Ending(enum.Enum):
    EXITED = "exited"
    TIMED_OUT = "timed out"
    STOPPED = "stopped"
    LOG_LIMIT = "stopped at the log limit"


@attrs.frozen
class Command:
    """What to run. `contained`: in a PID namespace whose init (the leader's only child)
    passes SIGTERM on to every process in it, as the sandbox's does."""

    argv: tuple[str, ...]
    contained: bool = False


@attrs.frozen
class Outcome:
    ending: Ending
    # The command's exit status; negative: killed by that signal; None: it could not start.
    returncode: int | None
    # Limits the phase ran into, e.g. "memory limit of 4294967296 bytes"; a log limit first.
    reached: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.ending is Ending.EXITED and self.returncode == 0


class LogBudget:
    """The log a project's build may write, spent by its phases in turn."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.lines = 0
        self.bytes = 0

    def lines_spent(self) -> str:
        return f"log limit of {self.max_lines} lines"

    def bytes_spent(self) -> str:
        return f"log limit of {self.max_bytes} bytes"


def run(
    command: Command,
    cwd: Path,
    env: Mapping[str, str],
    on_lines: Callable[[list[str]], None],
    deadline: float,
    stop: Callable[[], bool],
    grace: float,
    confinement: Confinement,
    budget: LogBudget,
) -> Outcome:
    """Run `command`, passing its output lines to `on_lines` as they come, until it exits or must end.

    `deadline` is on the `time.monotonic()` clock.
    """
    with (
        tempfile.NamedTemporaryFile(prefix="tickborg-phase-", suffix=".log") as spool,
        open(spool.name, "rb") as output,
        confinement.phase() as scope,
    ):
        try:
            process = subprocess.Popen(
                scope.wrap(command.argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=spool,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, which it leads
            )
        except OSError as exc:
            on_lines([f"cannot run {command.argv[0]}: {exc.strerror or exc}"])
            return Outcome(Ending.EXITED, None)
        signals = _Signals(process.pid, command.contained, scope)
        lines = _Lines(on_lines, budget)
        watchdog = _Watchdog(signals, deadline, stop, grace, spool.fileno(), budget)
        watchdog.start()
        try:
            _read(output, lines, watchdog, signals)
        finally:
            ending = watchdog.finish()
            signals.kill()  # whatever it left behind
            process.wait()
        if ending is Ending.EXITED:
            lines.end()
        reached = scope.limits_reached()
        if ending is Ending.LOG_LIMIT:
            reached = (watchdog.log_limit, *reached)
    return Outcome(ending, process.returncode, reached)


def _read(output: BinaryIO, lines: _Lines, watchdog: _Watchdog, signals: _Signals) -> None:
    """Pass on the spool's lines until the phase is over: exited and read, or ended and dead."""
    left_behind_killed = False
    while True:
        exited = signals.leader_exited()
        if exited and not left_behind_killed:
            signals.kill()  # nothing more is written once its last process is gone
            left_behind_killed = True
        if lines.full:
            return
        if watchdog.ending in (Ending.TIMED_OUT, Ending.STOPPED):
            if exited:
                return
            lines.wind_up()
        # At the byte limit the phase is killed at once, and what it wrote within the budget is passed on.
        chunk = output.read(lines.room(READ_BYTES))
        if chunk:
            lines.feed(chunk)
            if lines.full:
                watchdog.end_at_log_limit(lines.budget.lines_spent())
            continue
        if lines.room(1) == 0 and os.fstat(output.fileno()).st_size > output.tell():
            # The byte budget is spent and there is more: over it, even when the phase
            # exited before the watchdog looked.
            watchdog.end_at_log_limit(lines.budget.bytes_spent())
        if exited:
            return
        time.sleep(POLL_OUTPUT_SECONDS)


class _Lines:
    """Bytes in, whole lines out, within a budget; a line longer than MAX_LINE_BYTES goes out in pieces."""

    def __init__(self, on_lines: Callable[[list[str]], None], budget: LogBudget) -> None:
        self._on_lines = on_lines
        self.budget = budget
        self._max_lines = budget.max_lines
        self._partial = b""
        self.full = False  # the line budget is spent: the next line was dropped

    def room(self, size: int) -> int:
        """How much more may be read: the byte budget's rest, up to `size`."""
        return max(0, min(size, self.budget.max_bytes - self.budget.bytes))

    def wind_up(self) -> None:
        """After a stop or the deadline: only a few more lines."""
        self._max_lines = min(self._max_lines, self.budget.lines + AFTER_END_LINES)

    def feed(self, chunk: bytes) -> None:
        self.budget.bytes += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        while len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial[:MAX_LINE_BYTES])
            self._partial = self._partial[MAX_LINE_BYTES:]
        self._pass_on(lines)

    def end(self) -> None:
        """The last line, when the output did not end with a newline."""
        if self._partial:
            self._pass_on([self._partial])
            self._partial = b""

    def _pass_on(self, lines: list[bytes]) -> None:
        room = self._max_lines - self.budget.lines
        if len(lines) > room:
            lines = lines[: max(0, room)]
            self.full = True
        if lines:
            self.budget.lines += len(lines)
            self._on_lines([_text(line) for line in lines])


def _text(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", "replace")


class _Signals:
    """Signals for every process of one phase.

    SIGTERM goes to the process group, or, for a contained command, to the
    namespace's init only (the leader, bwrap, would die of it and take the
    namespace down with SIGKILL: no grace). SIGKILL goes to the group and the
    phase's cgroup; a contained command's namespace dies with its leader.
    """

    def __init__(self, pid: int, contained: bool, scope: Scope) -> None:
        self.pid = pid
        self.contained = contained
        self.scope = scope

    def leader_exited(self) -> bool:
        # Not reaped (WNOWAIT): until then its pid, the group id, cannot be reused.
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def terminate(self) -> None:
        if not self.contained:
            _kill_group(self.pid, signal.SIGTERM)
            return
        init = _child_of(self.pid)
        if init is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(init, signal.SIGTERM)
            os.close(init)

    def kill(self) -> None:
        _kill_group(self.pid, signal.SIGKILL)
        self.scope.kill()


def _child_of(pid: int) -> int | None:
    """A pidfd of `pid`'s first child, or None when it has none (not yet, or no more)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        first = children.read_text().split()[:1]
        if not first:
            return None
        pidfd = os.pidfd_open(int(first[0]))
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        # Still its child after the pidfd was opened: then the pidfd is of that child, not of a reused pid.
        if first[0] in children.read_text().split():
            return pidfd
    except FileNotFoundError:
        pass
    os.close(pidfd)
    return None


class _Watchdog:
    """A thread that ends the phase at the deadline, when told to stop, or past the log's byte budget."""

    def __init__(
        self, signals: _Signals, deadline: float, stop: Callable[[], bool], grace: float, spool: int, budget: LogBudget
    ) -> None:
        self.signals = signals
        self.deadline = deadline
        self.stop = stop
        self.grace = grace
        self.spool = spool
        self.budget = budget
        self.max_bytes = budget.max_bytes - budget.bytes  # this phase's share: what earlier ones left
        self.ending = Ending.EXITED
        self.log_limit = ""  # which log limit ended the phase, said when it was seen
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="build-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> Ending:
        """The phase is over (its output read, or abandoned); how it ended."""
        self._finished.set()
        self._thread.join()
        return self.ending

    def end(self, ending: Ending) -> bool:
        """Record how the phase ends, unless it already is."""
        with self._lock:
            if self.ending is not Ending.EXITED:
                return False
            self.ending = ending
        return True

    def end_at_log_limit(self, limit: str) -> None:
        """End the phase at the log limit `limit`, unless it already is, killing it at once."""
        with self._lock:
            if self.ending is not Ending.EXITED:
                return
            self.ending = Ending.LOG_LIMIT
            self.log_limit = limit
        self.signals.kill()

    def _watch(self) -> None:
        while not self._finished.wait(POLL_SECONDS):
            if os.fstat(self.spool).st_size > self.max_bytes:
                self.end_at_log_limit(self.budget.bytes_spent())
            elif time.monotonic() >= self.deadline:
                self._wind_down(Ending.TIMED_OUT)
            elif self.stop():
                self._wind_down(Ending.STOPPED)

    def _wind_down(self, ending: Ending) -> None:
        if not self.end(ending):
            return
        self.signals.terminate()
        killed_at = time.monotonic() + self.grace
        while time.monotonic() < killed_at and not self.signals.leader_exited():
            if self._finished.wait(min(POLL_SECONDS, max(0.0, killed_at - time.monotonic()))):
                break
        self.signals.kill()


def _kill_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # nothing left in the group
