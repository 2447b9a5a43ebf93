"""Running one phase: merged output in order, exit statuses, timeouts and
cancellation that leave no process behind (real processes, real signals)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import attrs
from procs import new_marker, sleeper, wait_for

from tickborg.builder.confine import Confinement, confinement
from tickborg.builder.process import Command, Ending, LogBudget, Outcome, run
from tickborg.builder.sandbox import ENVIRONMENT, Sandbox
from tickborg.config import BuildLimits

DEFAULTS = BuildLimits()


def sh(
    script: str,
    tmp_path: Path,
    timeout: float = 30.0,
    stop: threading.Event | None = None,
    grace: float = 1.0,
    sandbox: str = "none",
    limits: BuildLimits = DEFAULTS,
    confined: Confinement | None = None,
) -> tuple[Outcome, list[str]]:
    """Run `script` as a phase under `limits` (by this host's enforcement, unless `confined`)."""
    lines: list[str] = []
    command = Sandbox(sandbox, limits.tmp_bytes).command(tmp_path, tmp_path, ["sh", "-c", script])
    flag = stop or threading.Event()
    outcome = run(
        command, tmp_path, ENVIRONMENT, lines.extend, time.monotonic() + timeout, flag.is_set, grace,
        confined or confinement(limits), LogBudget(limits.log_lines, limits.log_bytes),
    )
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
    for confined in (confinement(DEFAULTS), Confinement("rlimit", DEFAULTS)):
        lines: list[str] = []
        outcome = run(
            Command(("/nonexistent/tool",)), tmp_path, ENVIRONMENT, lines.extend, time.monotonic() + 5,
            lambda: False, 1.0, confined, LogBudget(100, 10_000),
        )
        assert outcome.ending is Ending.EXITED and not outcome.succeeded  # the wrapper ran, the tool did not
        assert any("/nonexistent/tool" in line for line in lines), lines


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


def stop_after(seconds: float) -> threading.Event:
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    return stop


# Room for the 5,000,000 lines (39 MB) of `seq 5000000`.
ROOMY = attrs.evolve(DEFAULTS, log_lines=10_000_000)


def test_a_cancel_during_the_read_out_ends_it_promptly(tmp_path: Path) -> None:
    # The command writes its lines and exits long before they are all read.
    started = time.monotonic()
    outcome, lines = sh("seq 5000000", tmp_path, stop=stop_after(0.5), sandbox="bubblewrap", limits=ROOMY)
    assert outcome.ending is Ending.STOPPED and not outcome.succeeded
    assert time.monotonic() - started < 5  # not the whole read-out
    assert len(lines) < 5_000_000


def test_the_deadline_during_the_read_out_ends_it(tmp_path: Path) -> None:
    outcome, lines = sh("seq 5000000", tmp_path, timeout=0.5, limits=ROOMY)
    assert outcome.ending is Ending.TIMED_OUT
    assert len(lines) < 5_000_000


def test_a_flood_past_the_byte_limit_is_killed_at_once(tmp_path: Path) -> None:
    limits = attrs.evolve(DEFAULTS, log_bytes=1024 * 1024)
    outcome, lines = sh("yes", tmp_path, timeout=60, grace=30, sandbox="bubblewrap", limits=limits)
    # Killed without the grace, everything after the first MiB dropped.
    assert outcome.ending is Ending.LOG_LIMIT and outcome.reached == ("log limit of 1048576 bytes",)
    assert 0 < len(lines) <= 512 * 1024 and set(lines) == {"y"}


def test_a_phase_that_exits_past_the_byte_limit_before_the_watchdog_looks_ended_at_it(tmp_path: Path) -> None:
    limits = attrs.evolve(DEFAULTS, log_bytes=10_000)
    outcome, lines = sh("head -c 30000 /dev/zero | tr '\\0' 'x' | fold -w 99", tmp_path, limits=limits)
    assert outcome.ending is Ending.LOG_LIMIT and outcome.reached == ("log limit of 10000 bytes",)
    assert len(lines) == 100 and set(lines) == {"x" * 99}  # the budget's whole lines, no more


def test_a_reader_behind_the_byte_limit_passes_on_the_budget_and_names_the_byte_limit(tmp_path: Path) -> None:
    lines: list[str] = []

    def slow(batch: list[str]) -> None:  # a publisher under backpressure: the watchdog sees the limit first
        time.sleep(0.3 if not lines else 0)
        lines.extend(batch)

    budget = LogBudget(max_lines=1_000_000, max_bytes=256 * 1024)
    command = Sandbox("none", DEFAULTS.tmp_bytes).command(tmp_path, tmp_path, ["yes"])
    outcome = run(command, tmp_path, ENVIRONMENT, slow, time.monotonic() + 30, lambda: False, 1.0,
                  confinement(DEFAULTS), budget)
    assert outcome.ending is Ending.LOG_LIMIT and outcome.reached == ("log limit of 262144 bytes",)
    assert lines == ["y"] * 128 * 1024


def test_sigterm_reaches_the_sandboxed_build_which_gets_its_grace(tmp_path: Path) -> None:
    marker = new_marker()
    script = f"trap 'echo got TERM' TERM; {sleeper(marker, ignore_term=True)} & wait; echo waited; wait"
    started = time.monotonic()
    outcome, lines = sh(script, tmp_path, timeout=1.0, grace=2.0, sandbox="bubblewrap")
    assert outcome.ending is Ending.TIMED_OUT
    assert lines == ["got TERM", "waited"]  # SIGTERM went in; SIGKILL came only after the grace
    assert time.monotonic() - started >= 2.9
    assert wait_for(marker, present=False, timeout=5) == []


def test_without_a_cgroup_rlimits_bound_memory(tmp_path: Path) -> None:
    limits = attrs.evolve(DEFAULTS, memory_bytes=256 * 1024 * 1024, enforcement="rlimit")
    hog = "python3 -c 'data = b\"x\" * (512 * 1024 * 1024); print(\"allocated\")'"
    outcome, lines = sh(hog, tmp_path, sandbox="bubblewrap", confined=Confinement("rlimit", limits), limits=limits)
    assert outcome.ending is Ending.EXITED and outcome.returncode != 0
    assert "MemoryError" in lines and "allocated" not in lines
