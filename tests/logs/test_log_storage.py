"""The collector's storage and policy without a broker: every row of its table,
line N at line N whatever the order, redeliveries never duplicating a line."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from logs_support import ATTEMPT, DOTTED_KEY, LINES, PR_KEY, PUSH_KEY, body, chunk, line, log_text, result, start
from tickborg.logs.collector import POLICY, Case, LogCollector
from tickborg.logs.layout import Layout
from tickborg.logs.writer import NEWLINE_STAND_IN
from tickborg.runtime.actions import Ack, NackDump, NackRequeue
from tickborg.runtime.worker import Delivery, decide


@pytest.fixture
def collector(tmp_path: Path) -> LogCollector:
    """A result is stored at once, whatever is missing (its wait has a test of its own)."""
    return LogCollector(Layout(tmp_path), gap_wait_seconds=0)


def deliver(collector: LogCollector, key: str, raw: bytes) -> object:
    [verdict] = decide(collector, Delivery("build-logs", key, "application/json", raw))
    return verdict


def stored(collector: LogCollector, key: str, attempt_id: str = ATTEMPT) -> bytes:
    log = collector.layout.attempt(key, attempt_id).log
    return log.read_bytes() if log.exists() else b""  # before line 1 there is no log


@pytest.mark.parametrize("key", [PR_KEY, PUSH_KEY, DOTTED_KEY])
def test_a_log_in_order_is_stored_byte_for_byte(collector: LogCollector, key: str) -> None:
    assert isinstance(deliver(collector, key, body(start())), Ack)
    for number, text in enumerate(LINES, 1):
        assert isinstance(deliver(collector, key, body(line(number, text))), Ack)
    assert isinstance(deliver(collector, key, body(result())), Ack)
    files = collector.layout.attempt(key, ATTEMPT)
    assert stored(collector, key) == log_text(LINES)
    assert json.loads(files.metadata.read_text()) == start().to_json()
    assert json.loads(files.result.read_text()) == result().to_json()


def test_lines_out_of_order_and_redelivered_land_at_their_numbers(collector: LogCollector) -> None:
    lines = [f"line {n}" for n in range(1, 301)]
    order = list(range(1, 301))
    random.Random(7).shuffle(order)
    order += order[:60]  # redeliveries, some of lines parked, some written
    for number in order:
        deliver(collector, PR_KEY, body(line(number, lines[number - 1])))
        # Never a line out of place: what is there is always a prefix.
        assert log_text(lines).startswith(stored(collector, PR_KEY))
    assert stored(collector, PR_KEY) == log_text(lines)
    for number in (1, 150, 300):  # redelivered after the fact
        deliver(collector, PR_KEY, body(line(number, lines[number - 1])))
    assert stored(collector, PR_KEY) == log_text(lines)
    assert not (collector.layout.attempt(PR_KEY, ATTEMPT).state / "early").exists()


def test_chunks_out_of_order_overlapping_and_redelivered_store_each_line_once(collector: LogCollector) -> None:
    """Chunks cut two ways (a builder's retry of a send, say), single lines among them,
    shuffled and some twice: every line once, at its number, and nothing left parked."""
    lines = [f"line {n}" for n in range(1, 1001)]
    pieces = [chunk(first, lines[first - 1 : first + 99]) for first in range(1, 1001, 100)]
    pieces += [chunk(first, lines[first - 1 : first + 249]) for first in range(51, 1001, 250)]
    pieces += [line(number, lines[number - 1]) for number in (1, 100, 101, 777, 1000)]
    random.Random(3).shuffle(pieces)
    pieces += pieces[:6]
    for piece in pieces:
        assert isinstance(deliver(collector, PR_KEY, body(piece)), Ack)
        assert log_text(lines).startswith(stored(collector, PR_KEY))
    assert stored(collector, PR_KEY) == log_text(lines)
    assert not (collector.layout.attempt(PR_KEY, ATTEMPT).state / "early").exists()
    deliver(collector, PR_KEY, body(result()))
    deliver(collector, PR_KEY, body(chunk(990, lines[989:])))  # redelivered after the result
    assert stored(collector, PR_KEY) == log_text(lines)


def test_a_chunk_after_the_result_fills_only_the_lines_still_missing(collector: LogCollector) -> None:
    lines = [f"line {n}" for n in range(1, 11)]
    deliver(collector, PR_KEY, body(chunk(1, lines[:3])))
    deliver(collector, PR_KEY, body(chunk(7, lines[6:])))  # parked: 4-6 not yet here
    deliver(collector, PR_KEY, body(result()))
    served = stored(collector, PR_KEY)
    assert served == log_text(lines[:3] + ["", "", ""] + lines[6:])
    deliver(collector, PR_KEY, body(chunk(2, lines[1:5])))  # 2-3 written, 4-5 late
    assert stored(collector, PR_KEY) == served + log_text(["[line 4, late] line 4", "[line 5, late] line 5"])


def test_lines_parked_by_an_earlier_version_are_placed(collector: LogCollector) -> None:
    """Earlier collectors parked each early line as `early/<number>`: an upgrade mid-build keeps them."""
    deliver(collector, PR_KEY, body(line(1, "line 1")))
    deliver(collector, PR_KEY, body(line(3, "line 3")))  # parked
    early = collector.layout.attempt(PR_KEY, ATTEMPT).state / "early"
    (early / "4").write_bytes(b"line 4\n")
    deliver(collector, PR_KEY, body(chunk(2, ["line 2"])))
    assert stored(collector, PR_KEY) == log_text([f"line {n}" for n in range(1, 5)])


def test_the_result_fills_a_lost_lines_place_and_a_late_line_goes_to_the_end(collector: LogCollector) -> None:
    """A live reader holds the log up to an offset (`?from_byte=`): no byte before it ever moves."""
    many = [f"line {n} " + "x" * 200 for n in range(1, 3001)]  # a large log: 600 kB
    for number in range(1, 3001):
        if number != 3:
            deliver(collector, PR_KEY, body(line(number, many[number - 1])))
    assert stored(collector, PR_KEY) == log_text(many[:2])  # line 3 not yet here
    deliver(collector, PR_KEY, body(result()))
    log = collector.layout.attempt(PR_KEY, ATTEMPT).log
    served, inode = stored(collector, PR_KEY), log.stat().st_ino
    assert served == log_text(many[:2] + [""] + many[3:])
    deliver(collector, PR_KEY, body(line(3, many[2])))
    deliver(collector, PR_KEY, body(line(3, many[2])))  # redelivered: once is enough
    assert stored(collector, PR_KEY) == served + f"[line 3, late] {many[2]}\n".encode()
    deliver(collector, PR_KEY, body(line(3002, "line 3002")))  # past the end, 3001 still missing
    deliver(collector, PR_KEY, body(line(3001, "line 3001")))
    deliver(collector, PR_KEY, body(line(3002, "line 3002")))
    deliver(collector, PR_KEY, body(line(10, many[9])))  # written already
    assert stored(collector, PR_KEY) == served + log_text(
        [f"[line 3, late] {many[2]}", "[line 3002, late] line 3002", "[line 3001, late] line 3001"]
    )
    assert log.stat().st_ino == inode  # appended to, never replaced


def test_a_result_waits_for_lines_parked_behind_a_gap(tmp_path: Path) -> None:
    """Lines 1-2 on their way back from a retry (a full disk) when the result comes: it waits for them."""
    collector = LogCollector(Layout(tmp_path), gap_wait_seconds=30)
    for number in (3, 4):
        deliver(collector, PR_KEY, body(line(number, f"line {number}")))
    waiting = deliver(collector, PR_KEY, body(result()))
    assert isinstance(waiting, NackRequeue) and waiting.not_before is not None
    assert 25 < waiting.not_before - time.time() <= 30
    assert not collector.layout.attempt(PR_KEY, ATTEMPT).result.exists()
    for number in (1, 2):
        deliver(collector, PR_KEY, body(line(number, f"line {number}")))
    assert isinstance(deliver(collector, PR_KEY, body(result())), Ack)  # back from its retry
    assert stored(collector, PR_KEY) == log_text([f"line {n}" for n in range(1, 5)])
    assert collector.layout.attempt(PR_KEY, ATTEMPT).result.exists()


def test_an_attempts_state_goes_with_its_result(collector: LogCollector, tmp_path: Path) -> None:
    """However many builds a key sees, `.state` keeps only those still running."""
    state = tmp_path / "tick-org" / "monorepo.42" / ".state"
    for n in range(40):
        attempt_id = f"attempt-{n}"
        deliver(collector, PR_KEY, body(start(attempt_id)))
        for number in (2, 1, 4, 3):  # parked, then placed
            deliver(collector, PR_KEY, body(line(number, f"line {number}", attempt_id)))
        if n % 10 != 9:  # every tenth build is still running
            deliver(collector, PR_KEY, body(result(attempt_id)))
            deliver(collector, PR_KEY, body(line(4, "line 4", attempt_id)))  # a redelivery after it
        assert stored(collector, PR_KEY, attempt_id) == log_text([f"line {i}" for i in range(1, 5)])
    assert sorted(p.name for p in state.iterdir()) == [f"attempt-{n}" for n in (19, 29, 39, 9)]
    deliver(collector, PR_KEY, body(result("attempt-9")))
    assert sorted(p.name for p in state.iterdir()) == [f"attempt-{n}" for n in (19, 29, 39)]


def test_writes_are_synced_once_per_file_touched(collector: LogCollector) -> None:
    deliver(collector, PR_KEY, body(start()))
    assert collector.writer.sync() >= 3  # the metadata, the log, and the directory that names them
    for number in range(1, 201):
        deliver(collector, PR_KEY, body(line(number, f"line {number}")))
    # The log and the progress file, and the directories made for the state (each in its parent).
    assert collector.writer.sync() == 5
    for number in range(201, 401):
        deliver(collector, PR_KEY, body(line(number, f"line {number}")))
    assert collector.writer.sync() == 2  # 200 lines: the log and the progress file, once each
    assert collector.writer.sync() == 0  # nothing written since


def test_a_newline_inside_a_line_does_not_shift_the_lines_after_it(collector: LogCollector) -> None:
    deliver(collector, PR_KEY, body(line(1, "two\nparts")))
    deliver(collector, PR_KEY, body(line(2, "next")))
    assert stored(collector, PR_KEY).decode().splitlines() == [f"two{NEWLINE_STAND_IN}parts", "next"]


def test_a_lone_surrogate_is_stored_replaced(collector: LogCollector) -> None:
    raw = b'{"system":"x86_64-linux","identity":"b","attempt_id":"' + ATTEMPT.encode() + b'","line_number":1,"output":"a\\ud800b"}'
    assert isinstance(deliver(collector, PR_KEY, raw), Ack)
    assert stored(collector, PR_KEY) == b"a?b\n"


def test_a_write_cut_short_is_undone_before_the_next(collector: LogCollector) -> None:
    deliver(collector, PR_KEY, body(line(1, "one")))
    with open(collector.layout.attempt(PR_KEY, ATTEMPT).log, "ab") as log:
        log.write(b"tw")  # a disk that filled up halfway through line 2
    deliver(collector, PR_KEY, body(line(2, "two")))
    assert stored(collector, PR_KEY) == b"one\ntwo\n"


def test_a_progress_file_that_does_not_parse_is_rebuilt_from_the_log(collector: LogCollector) -> None:
    deliver(collector, PR_KEY, body(line(1, "one")))
    (collector.layout.attempt(PR_KEY, ATTEMPT).state / "progress.json").write_bytes(b'{"lin')
    deliver(collector, PR_KEY, body(line(1, "one")))
    deliver(collector, PR_KEY, body(line(2, "two")))
    assert stored(collector, PR_KEY) == b"one\ntwo\n"


@pytest.mark.parametrize(
    "key, attempt_id",
    [
        ("../../etc.1", ATTEMPT),
        ("/etc/passwd", ATTEMPT),
        ("acme/x/y.1", ATTEMPT),
        ("acme\\x.1", ATTEMPT),
        ("acme/x\x00.1", ATTEMPT),
        ("acme/..", ATTEMPT),
        (PR_KEY, "../../escape"),
        (PR_KEY, ".."),
        (PR_KEY, "/tmp/abs"),
        (PR_KEY, "a\x00b"),
        (PR_KEY, "x.metadata.json"),
    ],
)
def test_a_bad_path_is_dead_lettered_and_writes_nothing(collector: LogCollector, tmp_path: Path, key: str, attempt_id: str) -> None:
    for message in (start(attempt_id), line(1, "x", attempt_id), result(attempt_id)):
        verdict = deliver(collector, key, body(message))
        assert isinstance(verdict, NackDump)
        assert "attempt id" in verdict.reason or "log key" in verdict.reason
    assert not any(tmp_path.iterdir())
    assert not (tmp_path.parent / "escape").exists()


@pytest.mark.parametrize("number", [0, 10_000_001])
def test_a_line_number_out_of_range_is_dead_lettered(collector: LogCollector, number: int) -> None:
    assert deliver(collector, PR_KEY, body(line(number, "x"))) == NackDump("")
    assert deliver(collector, PR_KEY, body(chunk(number, ["x"]))) == NackDump("")


def test_a_chunk_reaching_past_the_last_line_number_is_dead_lettered(collector: LogCollector) -> None:
    assert deliver(collector, PR_KEY, body(chunk(9_999_999, ["x", "y", "z"]))) == NackDump("")
    assert not collector.layout.attempt(PR_KEY, ATTEMPT).log.exists()
    assert POLICY[Case.BAD_LINE_NUMBER].value == "dead-letter"


@pytest.mark.parametrize(
    "raw",
    [b"\xff", b"not json", b"[]", b'{"system": "x86_64-linux"}', b'{"line_number": "1"}', b'{"request_id": 1}',
     b'{"system": "x86_64-linux", "identity": "b", "attempt_id": "a", "first_line_number": 1, "lines": "x"}'],
)
def test_undecodable_messages_are_dead_lettered(collector: LogCollector, raw: bytes) -> None:
    verdict = deliver(collector, PR_KEY, raw)
    assert isinstance(verdict, NackDump) and verdict.reason.startswith("decode failure")


def test_storage_that_cannot_be_written_is_retried(collector: LogCollector, tmp_path: Path) -> None:
    (tmp_path / "tick-org").write_text("a file where the key's directory belongs")
    for message in (start(), line(1, "x"), result()):
        verdict = deliver(collector, PR_KEY, body(message))
        assert isinstance(verdict, NackRequeue) and verdict.reason.startswith("ENOTDIR")
