"""The collector's writes, idempotent per (attempt_id, line_number) (SPEC §5, §10).

A log only ever grows at its end: bytes logapi served at an offset stay at
that offset (a live reader follows with `?from_byte=`). Lines are appended as
soon as every line before them is there; a line that arrives early is parked
in the attempt's state directory until the gap before it fills. A line already
written is not written again, so a redelivery never duplicates one. Each
attempt's writes hold a lock on its log file, so several collectors may share
the storage.

When the result arrives the build is over: parked lines go to their places and
any gap left (a line lost) becomes empty lines, so line N stays at line N. A
result that finds lines parked behind a gap first waits for them (they may be
on their way back from a retry after a full disk): the caller brings it back
at the time `result` returns, and then it is stored whatever came. A
line that still turns up after the result is appended at the end, marked with
its number (`LATE_MARK`); its empty line stays as it was. The state directory
goes with the result, unless lines are still missing then: it stays, a small
progress file, for the marked lines.

Nothing written is durable before `sync`, which the collector runs before the
acks of the lines it covers. The hot path is a handful of system calls per
line, on plain string paths.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from tickborg.logs.files import FILE_MODE, read_or_none, write_atomically
from tickborg.logs.layout import AttemptFiles
from tickborg.logs.progress import Progress
from tickborg.logs.syncing import Unsynced

# One message is one line: a newline inside it would shift every later line.
NEWLINE_STAND_IN = "\u2424"
PROGRESS = "progress.json"
PARKED = "early"
# Before a line appended after the result, away from its place.
LATE_MARK = "[line {number}, late] "


def encode_line(text: str) -> bytes:
    # `replace`: a lone surrogate (valid JSON, invalid UTF-8) must not fail the write for ever.
    return text.replace("\n", NEWLINE_STAND_IN).encode("utf-8", "replace") + b"\n"


@attrs.frozen
class _Paths:
    """An attempt's paths as strings, made once per message."""

    log: str
    result: str
    state: str
    progress: str
    parked: str

    @classmethod
    def of(cls, files: AttemptFiles) -> _Paths:
        state = str(files.state)
        return cls(str(files.log), str(files.result), state, os.path.join(state, PROGRESS), os.path.join(state, PARKED))

    def parked_line(self, number: int) -> str:
        return os.path.join(self.parked, str(number))


@attrs.define
class _Held:
    """An attempt's files under its lock: the log, its progress, the progress file if there is one."""

    log: int
    progress: Progress
    record: int | None


class LogWriter:
    """Writes of one attempt's files. Every failure is an OSError (a full or read-only disk)."""

    def __init__(self) -> None:
        self.unsynced = Unsynced()

    def sync(self) -> int:
        """Make every write so far durable; how many files and directories that took."""
        return self.unsynced.sync()

    def start(self, files: AttemptFiles, start: Any) -> None:
        self._write_json(files.metadata, start)
        # An empty log at once: the page shows the build before its first line.
        with open(files.log, "ab"):
            pass
        self.unsynced.created(str(files.log))

    def line(self, files: AttemptFiles, number: int, text: str) -> None:
        data = encode_line(text)
        paths = _Paths.of(files)
        with self._locked(paths) as held:
            progress = held.progress
            if number <= progress.lines and not progress.is_hole(number):
                return  # written already: a redelivery
            if progress.sealed:
                self._save(paths, held, _append_late(held.log, progress, number, data))
                return
            if number > progress.lines + 1:
                self.unsynced.makedirs(paths.parked)
                write_atomically(Path(paths.parked_line(number)), data)
                self.unsynced.created(paths.parked_line(number))
                return
            after = _extend(held.log, progress, itertools.chain([(number, data)], _parked_from(paths, number + 1)))
            self._save(paths, held, after)
            if after.lines > number:
                _forget_parked(paths, range(number + 1, after.lines + 1))

    def result(self, files: AttemptFiles, result: Any, now: float, wait: float) -> float | None:
        """Store the result; or, while lines are parked behind a gap for less than `wait`
        seconds since the result first came, the time (epoch seconds) to come back at."""
        paths = _Paths.of(files)
        with self._locked(paths) as held:
            progress = held.progress
            if not progress.sealed:
                numbers = sorted(n for n in _parked_numbers(paths) if n > progress.lines)
                due = now + wait if progress.result_due is None else progress.result_due
                if numbers and now < due:
                    if progress.result_due is None:
                        self._save(paths, held, attrs.evolve(progress, result_due=due))
                    return due
                lines = ((n, Path(paths.parked_line(n)).read_bytes()) for n in numbers)
                progress = attrs.evolve(_extend(held.log, progress, lines), sealed=True)
            # Before the state goes: once a result is there, readers take the log as complete.
            self._write_json(files.result, result)
            shutil.rmtree(paths.parked, ignore_errors=True)
            self._save(paths, held, progress)
        return None

    def _write_json(self, path: Path, value: Any) -> None:
        self.unsynced.makedirs(str(path.parent))
        write_atomically(path, json.dumps(value, indent=2).encode() + b"\n")
        self.unsynced.created(str(path))

    @contextmanager
    def _locked(self, paths: _Paths) -> Iterator[_Held]:
        """The attempt's files under the lock of its log.

        A write cut short (a full disk) is cut off the log first; a progress
        file that does not parse (a crash while writing it), or that is ahead
        of the log (a power loss took the log's unsynced end), is rebuilt from
        the log, as is the progress of an attempt whose state is gone.
        """
        self.unsynced.makedirs(os.path.dirname(paths.log))
        log = os.open(paths.log, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        record = None
        try:
            fcntl.flock(log, fcntl.LOCK_EX)  # released when the file closes
            size = os.fstat(log).st_size
            if size == 0:
                self.unsynced.created(paths.log)  # perhaps made just now
            try:
                record = os.open(paths.progress, os.O_RDWR)
            except FileNotFoundError:
                pass
            progress = _read_progress(record, log, size, paths)
            if size > progress.size:
                os.ftruncate(log, progress.size)
            yield _Held(log, progress, record)
        finally:
            if record is not None:
                os.close(record)
            os.close(log)

    def _save(self, paths: _Paths, held: _Held, progress: Progress) -> None:
        """Record `progress`; once it adds nothing to what the log says, the attempt's state goes."""
        self.unsynced.wrote(paths.log)
        if progress.finished:
            if os.path.isdir(paths.state):
                shutil.rmtree(paths.state, ignore_errors=True)
                self.unsynced.removed(paths.state)
            return
        if held.record is None:
            self.unsynced.makedirs(paths.state)
            held.record = os.open(paths.progress, os.O_RDWR | os.O_CREAT, FILE_MODE)
            self.unsynced.created(paths.progress)
        data = progress.to_bytes()
        os.pwrite(held.record, data, 0)
        os.ftruncate(held.record, len(data))
        self.unsynced.wrote(paths.progress)


def _read_progress(record: int | None, log: int, size: int, paths: _Paths) -> Progress:
    data = os.pread(record, 1 << 20, 0) if record is not None else b""
    if data:
        try:
            progress = Progress.from_bytes(data)
            if progress.size <= size:
                return progress
        except (ValueError, KeyError, TypeError):
            pass
    return Progress.of_log(os.pread(log, size, 0), sealed=os.path.exists(paths.result))


def _parked_from(paths: _Paths, first: int) -> Iterator[tuple[int, bytes]]:
    """Parked lines first, first+1, ... up to the next gap."""
    for number in itertools.count(first):
        data = read_or_none(Path(paths.parked_line(number)))
        if data is None:
            return
        yield number, data


def _parked_numbers(paths: _Paths) -> list[int]:
    try:
        return [int(name) for name in os.listdir(paths.parked) if name.isdigit()]
    except FileNotFoundError:
        return []


def _forget_parked(paths: _Paths, numbers: range) -> None:
    for number in numbers:
        Path(paths.parked_line(number)).unlink(missing_ok=True)
    try:
        os.rmdir(paths.parked)
    except OSError:  # more lines wait there
        pass


def _extend(log: int, progress: Progress, lines: Iterable[tuple[int, bytes]]) -> Progress:
    """Append `lines` (ascending, all past the end), a gap before one as empty lines."""
    chunks: list[bytes] = []
    count, holes = progress.lines, list(progress.holes)
    for number, data in lines:
        if number > count + 1:
            holes.append((count + 1, number - 1))
            chunks.append(b"\n" * (number - 1 - count))
        chunks.append(data)
        count = number
    blob = b"".join(chunks)
    _append(log, blob)
    return attrs.evolve(progress, lines=count, size=progress.size + len(blob), holes=tuple(holes))


def _append_late(log: int, progress: Progress, number: int, data: bytes) -> Progress:
    """A line after the result, at the end and marked: for a hole, or past the end (the lines between become holes)."""
    blob = LATE_MARK.format(number=number).encode() + data
    _append(log, blob)
    if number <= progress.lines:
        progress = progress.without_hole(number)
    elif number > progress.lines + 1:
        progress = attrs.evolve(progress, lines=number, holes=(*progress.holes, (progress.lines + 1, number - 1)))
    else:
        progress = attrs.evolve(progress, lines=number)
    return attrs.evolve(progress, size=progress.size + len(blob), late=progress.late + 1)


def _append(log: int, blob: bytes) -> None:
    view = memoryview(blob)
    while view:
        view = view[os.write(log, view) :]
