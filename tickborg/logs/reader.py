"""logapi's reads: only files that stay under the log root (SPEC §10, §14).

Every path is built from a checked key and attempt id, then resolved: a
symlink that leads out of the root reads as absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import attrs

from tickborg.logs.layout import AttemptFiles, Layout
from tickborg.logs.paths import RESERVED_SUFFIXES, InvalidPath, check_attempt_id, contained


@attrs.frozen
class Attempt:
    attempt_id: str
    metadata: Any
    result: Any
    modified: float


@attrs.frozen
class LogReader:
    layout: Layout

    def attempts(self, key: str) -> list[Attempt]:
        """The key's attempts, oldest first (InvalidPath for a bad key)."""
        directory = self._inside(self.layout.key_dir(key))
        if directory is None:
            return []
        try:
            names = os.listdir(directory)
        except OSError:  # absent (no build yet), or not a directory
            return []
        found = []
        for attempt_id in _attempt_ids(names):
            files = AttemptFiles(directory, attempt_id)
            times = [t for t in map(self._mtime, (files.log, files.metadata, files.result)) if t is not None]
            if times:
                found.append(Attempt(attempt_id, self._json(files.metadata), self._json(files.result), min(times)))
        return sorted(found, key=lambda a: (a.modified, a.attempt_id))

    def open_log(self, key: str, attempt_id: str) -> BinaryIO | None:
        """The attempt's log for reading, or None (InvalidPath for a bad key or id)."""
        path = self._inside(self.layout.attempt(key, attempt_id).log)
        if path is None or not path.is_file():
            return None
        try:
            # The path resolved inside the root: a symlink put in its place since must not be followed.
            return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
        except OSError:
            return None

    def finished(self, key: str, attempt_id: str) -> bool:
        path = self._inside(self.layout.attempt(key, attempt_id).result)
        return path is not None and path.is_file()

    def _inside(self, path: Path) -> Path | None:
        return contained(self.layout.root, path)

    def _mtime(self, path: Path) -> float | None:
        inside = self._inside(path)
        try:
            return None if inside is None else inside.stat().st_mtime
        except OSError:
            return None

    def _json(self, path: Path) -> Any:
        inside = self._inside(path)
        try:
            return None if inside is None else json.loads(inside.read_bytes())
        except (OSError, ValueError):
            return None


def _attempt_ids(names: list[str]) -> set[str]:
    """Attempt ids named by a key directory's files: logs, metadata and results."""
    ids = set()
    for name in names:
        stem = next((name.removesuffix(s) for s in RESERVED_SUFFIXES if name.endswith(s)), name)
        try:
            ids.add(check_attempt_id(stem))
        except InvalidPath:
            pass  # hidden files, temporaries
    return ids
