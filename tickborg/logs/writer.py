"""The collector's writes, idempotent per (attempt_id, line_number) (SPEC §5, §10).

Lines are appended to the plain-text log as soon as every line before them is
there; a line that arrives early is parked in the attempt's state directory
until the gap before it fills. A line already written is not written again, so
a redelivery never duplicates one. Each attempt's writes hold a lock on its
progress file, so several collectors may share the storage.

When the result arrives the build is over: parked lines go to their places and
any gap left (a line lost for good) becomes empty lines, so line N stays at
line N; a line that still turns up later replaces its empty line.

The hot path is a handful of system calls per line, on plain string paths.
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

from tickborg.logs.files import read_or_none, write_atomically
from tickborg.logs.layout import AttemptFiles
from tickborg.logs.progress import Progress

# One message is one line: a newline inside it would shift every later line.
NEWLINE_STAND_IN = "\u2424"
PROGRESS = "progress.json"
PARKED = "early"


def encode_line(text: str) -> bytes:
    # `replace`: a lone surrogate (valid JSON, invalid UTF-8) must not fail the write for ever.
    return text.replace("\n", NEWLINE_STAND_IN).encode("utf-8", "replace") + b"\n"


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(value, indent=2).encode() + b"\n")


@attrs.frozen
class _Paths:
    """An attempt's paths as strings, made once per message."""

    log: str
    state: str
    parked: str

    @classmethod
    def of(cls, files: AttemptFiles) -> _Paths:
        state = str(files.state)
        return cls(str(files.log), state, os.path.join(state, PARKED))

    def parked_line(self, number: int) -> str:
        return os.path.join(self.parked, str(number))


class LogWriter:
    """Writes of one attempt's files. Every failure is an OSError (a full or read-only disk)."""

    def start(self, files: AttemptFiles, start: Any) -> None:
        write_json(files.metadata, start)
        # An empty log at once: the page shows the build before its first line.
        with open(files.log, "ab"):
            pass

    def line(self, files: AttemptFiles, number: int, text: str) -> None:
        data = encode_line(text)
        paths = _Paths.of(files)
        with _locked(paths) as (progress, save):
            if number <= progress.lines:
                if progress.is_hole(number):
                    save(_replace(paths, progress, number, data))
                return  # written already: a redelivery
            if number > progress.lines + 1 and not progress.sealed:
                os.makedirs(paths.parked, exist_ok=True)
                write_atomically(Path(paths.parked_line(number)), data)
                return
            after = _extend(paths, progress, itertools.chain([(number, data)], _parked_from(paths, number + 1)))
            save(after)
            if after.lines > number:
                _forget_parked(paths, range(number + 1, after.lines + 1))

    def result(self, files: AttemptFiles, result: Any) -> None:
        paths = _Paths.of(files)
        with _locked(paths) as (progress, save):
            numbers = sorted(n for n in _parked_numbers(paths) if n > progress.lines)
            lines = ((n, Path(paths.parked_line(n)).read_bytes()) for n in numbers)
            save(attrs.evolve(_extend(paths, progress, lines), sealed=True))
            shutil.rmtree(paths.parked, ignore_errors=True)
        # Last: once a result is there, readers take the log as complete.
        write_json(files.result, result)


@contextmanager
def _locked(paths: _Paths) -> Iterator[tuple[Progress, Any]]:
    """The attempt's progress and a `save` for it, under the lock of its file.

    A write cut short (a full disk) is cut off the log first; a progress file
    that does not parse (a crash while writing it) is rebuilt from the log.
    """
    os.makedirs(paths.state, exist_ok=True)
    fd = os.open(os.path.join(paths.state, PROGRESS), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file closes
        progress = _read_progress(fd, paths)
        try:
            if os.stat(paths.log).st_size > progress.size:
                os.truncate(paths.log, progress.size)
        except FileNotFoundError:
            pass

        def save(new: Progress) -> None:
            data = new.to_bytes()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))

        yield progress, save
    finally:
        os.close(fd)


def _read_progress(fd: int, paths: _Paths) -> Progress:
    data = os.pread(fd, 1 << 20, 0)
    if not data:
        return Progress()
    try:
        return Progress.from_bytes(data)
    except (ValueError, KeyError, TypeError):
        log = read_or_none(Path(paths.log)) or b""
        return Progress.of_log(log)


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


def _extend(paths: _Paths, progress: Progress, lines: Iterable[tuple[int, bytes]]) -> Progress:
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
    with open(paths.log, "ab") as log:
        log.write(blob)
    return attrs.evolve(progress, lines=count, size=progress.size + len(blob), holes=tuple(holes))


def _replace(paths: _Paths, progress: Progress, number: int, data: bytes) -> Progress:
    """A late line in place of its empty line: the whole file rewritten (rare: after a loss)."""
    lines = Path(paths.log).read_bytes()[: progress.size].split(b"\n")
    lines[number - 1] = data.rstrip(b"\n")
    blob = b"\n".join(lines)
    write_atomically(Path(paths.log), blob)
    return attrs.evolve(progress.without_hole(number), size=len(blob))
