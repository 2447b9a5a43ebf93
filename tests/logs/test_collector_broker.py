"""The log-message-collector process on the real broker: logs streamed to the
`logs` exchange as a builder streams them (out of order, redelivered) stored
byte for byte; bad paths and garbage dead-lettered while it carries on."""

from __future__ import annotations

import json
import random
from typing import Callable

from log_fleet import LogFleet
from logs_support import ATTEMPT, DOTTED_KEY, LINES, PR_KEY, PUSH_KEY, body, line, log_text, result, start
from support.process import wait_until
from tickborg.logs.layout import Layout
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.topology import BUILD_LOGS, dead_queue


def stream(fleet: LogFleet, key: str, lines: list[str], seed: int) -> None:
    """Start, lines shuffled with some sent twice, result: what redelivery and requeues can make of a build."""
    order = list(range(1, len(lines) + 1))
    rng = random.Random(seed)
    rng.shuffle(order)
    order += rng.sample(order, len(order) // 4)
    fleet.publish(key, body(start()))
    for number in order:
        fleet.publish(key, body(line(number, lines[number - 1])))
    fleet.publish(key, body(result()))


def test_logs_are_stored_byte_for_byte_whatever_the_order(make_log_fleet: Callable[..., LogFleet]) -> None:
    fleet = make_log_fleet()
    layout = Layout(fleet.root)
    many = LINES + [f"line {n}" for n in range(len(LINES) + 1, 200)]
    with fleet.run("log-message-collector") as process:
        for seed, key in enumerate((PR_KEY, PUSH_KEY, DOTTED_KEY)):
            stream(fleet, key, many, seed)
        for key in (PR_KEY, PUSH_KEY, DOTTED_KEY):
            files = layout.attempt(key, ATTEMPT)
            wait_until(lambda f=files: f.result.exists() and f.log.read_bytes() == log_text(many), timeout=60)
            assert json.loads(files.metadata.read_text()) == start().to_json()
            assert json.loads(files.result.read_text()) == result().to_json()
        assert (fleet.root / "tick-org" / "monorepo.push.main" / ATTEMPT).exists()
        assert (fleet.root / "acme" / "site.github.io.7" / ATTEMPT).exists()
        assert fleet.broker.count(dead_queue(BUILD_LOGS)) == 0
        assert process.poll() is None


def test_bad_paths_and_garbage_are_dead_lettered(make_log_fleet: Callable[..., LogFleet]) -> None:
    fleet = make_log_fleet()
    bad = [
        ("tick-org/../../etc.1", body(line(1, "x")), "log key"),
        ("tick-org/monorepo\\..\\x.1", body(start()), "log key"),
        (PR_KEY, body(line(1, "x", attempt_id="../../escape")), "attempt id"),
        (PR_KEY, body(result(attempt_id="..")), "attempt id"),
        (PR_KEY, body(line(1, "x", attempt_id="a\x00b")), "attempt id"),
        (PR_KEY, b"\xff not a log message", "decode failure"),
    ]
    with fleet.run("log-message-collector") as process:
        for key, raw, _ in bad:
            fleet.publish(key, raw)
        fleet.publish(PR_KEY, body(line(1, "still storing")))
        for _ in bad:
            props, raw = fleet.broker.get(dead_queue(BUILD_LOGS), timeout=30)
            reason = props.headers[DEAD_REASON_HEADER]
            assert any(raw == b and why in reason for _, b, why in bad), reason
        log = Layout(fleet.root).attempt(PR_KEY, ATTEMPT).log
        wait_until(lambda: log.exists() and log.read_bytes() == b"still storing\n")
        assert sorted(p.name for p in fleet.root.iterdir()) == ["tick-org"]
        assert not (fleet.tmp_path / "escape").exists()
        assert process.poll() is None


def test_two_collectors_share_the_storage(make_log_fleet: Callable[..., LogFleet]) -> None:
    """Scaled out, two collectors take lines of the same build at once: each attempt's writes hold its lock."""
    fleet = make_log_fleet()
    lines = [f"line {n}" for n in range(1, 301)]
    files = Layout(fleet.root).attempt(PR_KEY, ATTEMPT)
    with fleet.run("log-message-collector"), fleet.run("log-message-collector"):
        stream(fleet, PR_KEY, lines, seed=11)
        wait_until(lambda: files.result.exists() and files.log.read_bytes() == log_text(lines), timeout=60)
    assert fleet.broker.count(dead_queue(BUILD_LOGS)) == 0
