"""Which log keys and attempt ids may become paths under the log root (SPEC §10, §14).

Pure: no file system access except `contained`, which resolves symlinks. A log
key is `owner/rest` with exactly one `/` (the one inside `owner/repo`): `rest`
is `repo.42` or `repo.push.main`, and may hold dots (`site.github.io.7`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

# Beside an attempt's log: its metadata and result. An attempt id must not end
# like them, or one attempt's log would be another's metadata.
METADATA_SUFFIX = ".metadata.json"
RESULT_SUFFIX = ".result.json"
RESERVED_SUFFIXES = (METADATA_SUFFIX, RESULT_SUFFIX)
# Builders write UUIDs; this is wider, but never a hidden name (the collector's
# own files start with a dot) and leaves room for the suffixes within NAME_MAX.
ATTEMPT_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
NAME_MAX_BYTES = 255


class InvalidPath(ValueError):
    """A key or attempt id that must not name a file."""


def check_component(part: str, what: str) -> str:
    """`part`, if it is one safe file name; InvalidPath otherwise."""
    if not part:
        raise InvalidPath(f"{what} is empty")
    if part in (".", ".."):
        raise InvalidPath(f"{what} is {part!r}")
    if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES:
        raise InvalidPath(f"{what} is longer than {NAME_MAX_BYTES} bytes")
    for char in part:
        if char in "/\\" or ord(char) < 0x20 or char == "\x7f":
            raise InvalidPath(f"{what} holds {char!r}")
    return part


@attrs.frozen
class LogKey:
    """A log routing key, checked: `owner/rest`."""

    owner: str
    rest: str

    @classmethod
    def parse(cls, key: str) -> LogKey:
        owner, slash, rest = key.partition("/")
        if not slash:
            raise InvalidPath("log key has no '/' between owner and repository")
        return cls(check_component(owner, "log key owner"), check_component(rest, "log key repository part"))

    @property
    def text(self) -> str:
        return f"{self.owner}/{self.rest}"


def check_attempt_id(attempt_id: str) -> str:
    if not ATTEMPT_ID.fullmatch(attempt_id):
        raise InvalidPath("attempt id is not 1-200 of [A-Za-z0-9._-] starting with no dot")
    if attempt_id.endswith(RESERVED_SUFFIXES):
        raise InvalidPath(f"attempt id ends in one of {', '.join(RESERVED_SUFFIXES)}")
    return attempt_id


def contained(root: Path, path: Path) -> Path | None:
    """`path` with symlinks resolved, if it stays under `root`; None if it leaves it."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real if real.is_relative_to(real_root) else None
