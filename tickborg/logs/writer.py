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
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from tickborg.logs.files import FILE_MODE, write_atomically
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

    def parked_run(self, run: _Run) -> str:
        return os.path.join(self.parked, run.name)


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

    def lines(self, files: AttemptFiles, first: int, texts: Sequence[str]) -> None:
        """Lines `first`, `first` + 1, ...: each written once, at its place."""
        numbered = list(enumerate(map(encode_line, texts), first))
        if not numbered:
            return
        paths = _Paths.of(files)
        with self._locked(paths) as held:
            progress = held.progress
            if progress.sealed:
                after = progress
                for number, data in numbered:
                    if number > after.lines or after.is_hole(number):
                        after = _append_late(held.log, after, number, data)
                if after != progress:
                    self._save(paths, held, after)
                return
            # Before the result there are no holes: every line up to `lines` is written.
            new = [(number, data) for number, data in numbered if number > progress.lines]
            if not new:
                return  # written already: a redelivery
            if new[0][0] > progress.lines + 1:
                self._park(paths, new)
                return
            # Parked runs that now follow on (or overlap what came) go to the log with it.
            pieces, used, end = [new], [], new[-1][0]
            for run in _parked_runs(paths):
                if run.first > end + 1:
                    break
                used.append(run)
                if run.last > end:
                    pieces.append(_read_run(paths, run))
                    end = run.last
            self._save(paths, held, _extend(held.log, progress, _in_order(progress.lines, pieces)))
            _forget_parked(paths, used)

    def _park(self, paths: _Paths, lines: list[tuple[int, bytes]]) -> None:
        """Lines that came before the ones ahead of them: kept as one run until those come."""
        run = _Run(lines[0][0], lines[-1][0])
        self.unsynced.makedirs(paths.parked)
        path = paths.parked_run(run)
        write_atomically(Path(path), b"".join(data for _, data in lines))
        self.unsynced.created(path)

    def result(self, files: AttemptFiles, result: Any, now: float, wait: float) -> float | None:
        """Store the result; or, while lines are parked behind a gap for less than `wait`
        seconds since the result first came, the time (epoch seconds) to come back at."""
        paths = _Paths.of(files)
        with self._locked(paths) as held:
            progress = held.progress
            if not progress.sealed:
                runs = [run for run in _parked_runs(paths) if run.last > progress.lines]
                due = now + wait if progress.result_due is None else progress.result_due
                if runs and now < due:
                    if progress.result_due is None:
                        self._save(paths, held, attrs.evolve(progress, result_due=due))
                    return due
                lines = _in_order(progress.lines, (_read_run(paths, run) for run in runs))
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


@attrs.frozen
class _Run:
    """Parked lines first..last, in a file named "first-last" ("first" for one line,
    as earlier versions named every parked line)."""

    first: int
    last: int

    @property
    def name(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @classmethod
    def named(cls, name: str) -> _Run | None:
        first, _, last = name.partition("-")
        if not first.isdigit() or not (last or first).isdigit():
            return None  # not ours: a temporary file of an interrupted write
        return cls(int(first), int(last or first))


def _parked_runs(paths: _Paths) -> list[_Run]:
    """The attempt's parked runs, by their first line."""
    try:
        names = os.listdir(paths.parked)
    except FileNotFoundError:
        return []
    return sorted((run for run in map(_Run.named, names) if run is not None), key=lambda run: (run.first, run.last))


def _read_run(paths: _Paths, run: _Run) -> list[tuple[int, bytes]]:
    data = Path(paths.parked_run(run)).read_bytes()
    return [(number, line + b"\n") for number, line in enumerate(data.split(b"\n")[:-1], run.first)]


def _in_order(count: int, pieces: Iterable[Iterable[tuple[int, bytes]]]) -> Iterator[tuple[int, bytes]]:
    """The lines of `pieces` (each ascending, the pieces by their first line) past line
    `count`, each once: where pieces overlap, the first to hold a line gives it."""
    for piece in pieces:
        for number, data in piece:
            if number > count:
                yield number, data
                count = number


def _forget_parked(paths: _Paths, runs: Iterable[_Run]) -> None:
    for run in runs:
        Path(paths.parked_run(run)).unlink(missing_ok=True)
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
