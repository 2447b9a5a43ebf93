"""`tickborg demo` as a user runs it: the whole fleet for one PR, then nothing left behind.

Each run starts every worker, the fake GitHub and real make/cmake/custom builds
against the machine's RabbitMQ in a vhost of its own.
"""

from __future__ import annotations

import shutil
import signal

import pytest

from demo_process import DemoProcess, assert_nothing_left
from support.rabbit import free_port
from tickborg.demo.monorepo import EXPECTED_RUNS

pytestmark = pytest.mark.broker


def test_the_demo_completes_its_check_runs_and_runs_again_straight_away() -> None:
    for _ in range(2):
        demo = DemoProcess()
        code = demo.finish()
        assert code == 0, demo.output
        for name in EXPECTED_RUNS:
            assert any(line.endswith(f"check run {name!r}: completed (success)") for line in demo.lines)
            assert f"    {name}: completed, success" in demo.lines
        assert "  labels: project: libfoo, project: scripts" in demo.lines
        assert any(line.startswith("    tickborg-eval: success") for line in demo.lines)
        assert sum("/logs/tick-org/monorepo.1/" in line and "Success" in line for line in demo.lines) == 2
        assert_nothing_left(demo)


def test_sigint_mid_run_stops_every_process_and_removes_the_vhost() -> None:
    demo = DemoProcess()
    # Seconds before the end, with the builds under way (a check run's short-lived
    # "queued" can fall between two of the demo's looks at GitHub; a quick
    # evaluation writes no pending status).
    demo.wait_for_line(lambda line: "status tickborg-eval: success" in line)
    demo.interrupt(signal.SIGINT)
    assert demo.finish() == 130, demo.output
    assert "interrupted: stopping the fleet" in demo.lines
    assert_nothing_left(demo)


def test_sigterm_while_the_fleet_starts_stops_every_process_and_removes_the_vhost() -> None:
    demo = DemoProcess()
    demo.wait_for_line(lambda line: "started" in line and "workers" in line)
    demo.interrupt(signal.SIGTERM)
    assert demo.finish() == 130, demo.output
    assert_nothing_left(demo)


def test_a_run_out_of_time_fails_naming_what_it_waited_for_and_keeps_only_the_logs() -> None:
    demo = DemoProcess("--timeout", "0")
    try:
        assert demo.finish() == 1, demo.output
        assert any(line.startswith("FAILED: waited 0s for the fake GitHub to answer") for line in demo.lines), demo.output
        assert f"--- last lines of {demo.root / 'logs' / 'fake-github.log'} ---" in demo.lines, demo.output
        assert_nothing_left(demo, but_logs=True)
    finally:
        shutil.rmtree(demo.root, ignore_errors=True)


def test_an_unreachable_broker_fails_with_a_clear_message() -> None:
    demo = DemoProcess("--rabbitmq-port", str(free_port()))
    try:
        assert demo.finish() == 1, demo.output
        assert any(line.startswith("FAILED: RabbitMQ is not reachable at 127.0.0.1:") for line in demo.lines), demo.output
        assert_nothing_left(demo, but_logs=True)
    finally:
        shutil.rmtree(demo.root, ignore_errors=True)


@pytest.mark.parametrize("args", [["--timeout", "soon"], ["--rabbitmq-port", "x"], ["--no-such-flag"]])
def test_bad_arguments_exit_2_before_anything_starts(args: list[str]) -> None:
    demo = DemoProcess(*args)
    assert demo.finish() == 2
    assert "usage: tickborg demo" in demo.output
    assert not any(line.startswith("tickborg demo in ") for line in demo.lines)
