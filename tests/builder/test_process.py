"""Running one phase: merged output in order, exit statuses, timeouts and
cancellation that leave no process behind (real processes, real signals)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from procs import new_marker, sleeper, wait_for

from tickborg.builder.process import Ending, Outcome, run
from tickborg.builder.sandbox import ENVIRONMENT, Sandbox


def sh(
    script: str,
    tmp_path: Path,
    timeout: float = 30.0,
    stop: threading.Event | None = None,
    grace: float = 1.0,
    sandbox: str = "none",
) -> tuple[Outcome, list[str]]:
    lines: list[str] = []
    argv = Sandbox(sandbox).command(tmp_path, tmp_path, ["sh", "-c", script])
    flag = stop or threading.Event()
    outcome = run(argv, tmp_path, ENVIRONMENT, lines.extend, time.monotonic() + timeout, flag.is_set, grace)
    return outcome, lines


def test_stdout_and_stderr_merged_line_by_line_in_order(tmp_path: Path) -> None:
    outcome, lines = sh("for i in 1 2 3; do echo out$i; echo err$i >&2; done; printf 'no newline'", tmp_path)
    assert outcome == Outcome(Ending.EXITED, 0) and outcome.succeeded
    assert lines == ["out1", "err1", "out2", "err2", "out3", "err3", "no newline"]


def test_non_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    outcome, lines = sh(r"printf 'caf\351 \377\376 ok\r\nnext\n'", tmp_path)
    assert outcome.succeeded
    assert lines == ["caf\ufffd \ufffd\ufffd ok", "next"]


def test_exit_status_and_missing_command(tmp_path: Path) -> None:
    assert sh("echo bye; exit 3", tmp_path)[0] == Outcome(Ending.EXITED, 3)
    lines: list[str] = []
    outcome = run(["/nonexistent/tool"], tmp_path, ENVIRONMENT, lines.extend, time.monotonic() + 5, lambda: False, 1.0)
    assert outcome == Outcome(Ending.EXITED, None) and not outcome.succeeded
    assert lines and "cannot run /nonexistent/tool" in lines[0]


def test_the_environment_is_clean(tmp_path: Path) -> None:
    _, lines = sh("env | sort", tmp_path)
    names = {line.split("=", 1)[0] for line in lines}
    assert names <= {"PATH", "HOME", "LANG", "PWD", "SHLVL", "_"}, names


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    marker = new_marker()
    # One in the background that ignores SIGTERM: SIGKILL after the grace ends it.
    script = f"{sleeper(marker, ignore_term=True)} & {sleeper(marker)}; wait"
    started = time.monotonic()
    outcome, _ = sh(script, tmp_path, timeout=1.0, grace=0.5)
    assert outcome.ending is Ending.TIMED_OUT and not outcome.succeeded
    assert time.monotonic() - started < 15
    assert wait_for(marker, present=False, timeout=5) == []  # a killed process takes a moment to go


def test_stop_kills_the_group(tmp_path: Path) -> None:
    marker = new_marker()
    stop = threading.Event()
    result: list[Outcome] = []
    thread = threading.Thread(target=lambda: result.append(sh(f"{sleeper(marker)}; echo never", tmp_path, stop=stop)[0]))
    thread.start()
    assert wait_for(marker, present=True)
    stop.set()
    thread.join(20)
    assert result and result[0].ending is Ending.STOPPED
    assert wait_for(marker, present=False, timeout=5) == []  # a killed process takes a moment to go


def test_processes_left_behind_by_a_finished_phase_are_killed(tmp_path: Path) -> None:
    marker = new_marker()
    outcome, _ = sh(f"{sleeper(marker)} >/dev/null 2>&1 & echo started", tmp_path)
    assert outcome.succeeded
    assert wait_for(marker, present=False, timeout=5) == []  # a killed process takes a moment to go


def test_sandboxed_timeout_leaves_nothing(tmp_path: Path) -> None:
    marker = new_marker()
    outcome, _ = sh(sleeper(marker, ignore_term=True), tmp_path, timeout=1.0, grace=0.5, sandbox="bubblewrap")
    assert outcome.ending is Ending.TIMED_OUT
    assert wait_for(marker, present=False, timeout=5) == []
