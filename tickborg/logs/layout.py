"""Where an attempt's files live under the log root (SPEC §10).

    {root}/{owner}/{rest}/{attempt_id}                 the log, plain text, line N at line N
    {root}/{owner}/{rest}/{attempt_id}.metadata.json   the BuildLogStart
    {root}/{owner}/{rest}/{attempt_id}.result.json     the BuildResult
    {root}/{owner}/{rest}/.state/{attempt_id}/         the collector's own: progress, early lines (until the result)

Attempt ids never start with a dot, so nothing hidden is ever an attempt.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from tickborg.logs.paths import METADATA_SUFFIX, RESULT_SUFFIX, LogKey, check_attempt_id

STATE_DIR = ".state"


@attrs.frozen
class AttemptFiles:
    directory: Path
    attempt_id: str

    @property
    def log(self) -> Path:
        return self.directory / self.attempt_id

    @property
    def metadata(self) -> Path:
        return self.directory / f"{self.attempt_id}{METADATA_SUFFIX}"

    @property
    def result(self) -> Path:
        return self.directory / f"{self.attempt_id}{RESULT_SUFFIX}"

    @property
    def state(self) -> Path:
        return self.directory / STATE_DIR / self.attempt_id


@attrs.frozen
class Layout:
    root: Path

    def key_dir(self, key: str) -> Path:
        """The directory of a log key; InvalidPath when the key must not name one."""
        parsed = LogKey.parse(key)
        return self.root / parsed.owner / parsed.rest

    def attempt(self, key: str, attempt_id: str) -> AttemptFiles:
        """An attempt's files; InvalidPath when the key or the id must not name them."""
        return AttemptFiles(self.key_dir(key), check_attempt_id(attempt_id))
