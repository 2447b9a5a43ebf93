"""logapi's answers (SPEC §10): the page, a key's attempts as JSON, an attempt's log.

    GET /                                        the log page
    GET /logs/{owner}/{rest}                     {"attempts": {id: {metadata, result, log_url}}}
    GET /logs/{owner}/{rest}/{attempt_id}        the log, text/plain
        ?from_byte=N                             from byte N, at most CHUNK_BYTES (live following)

Each path segment is percent-decoded on its own, then checked like the
collector checks it: `%2e%2e`, `%2f`, `%00` and the like are 404, as is
anything a symlink would lead out of the log root.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO
from urllib.parse import parse_qs, quote, unquote

import attrs

from tickborg.logs.paths import InvalidPath
from tickborg.logs.reader import LogReader

CHUNK_BYTES = 1024 * 1024
FINISHED_HEADER = "X-Tickborg-Finished"
LOGS_PREFIX = "/logs/"
TEXT = "text/plain; charset=utf-8"
# The page runs only its own inline code and talks only to this server.
PAGE_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    ),
)
# A log holds anything a build printed: never let a browser take it for HTML.
COMMON_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))


@attrs.frozen
class Response:
    status: int
    content_type: str
    body: bytes = b""
    # Or, for a log: `length` bytes of `file` from its current position.
    file: BinaryIO | None = None
    length: int = 0
    headers: tuple[tuple[str, str], ...] = ()


def not_found() -> Response:
    return Response(404, TEXT, b"not found\n")


def answer(reader: LogReader, page: bytes, target: str) -> Response:
    """The response to a GET of `target` (path and query, as the request line has them)."""
    path, _, query = target.partition("?")
    if path == "/":
        return Response(200, "text/html; charset=utf-8", page, headers=PAGE_HEADERS)
    if not path.startswith(LOGS_PREFIX):
        return not_found()
    try:
        segments = [unquote(s, errors="strict") for s in path[len(LOGS_PREFIX) :].split("/")]
        if len(segments) == 2:
            return _attempts(reader, "/".join(segments))
        if len(segments) == 3:
            return _log(reader, "/".join(segments[:2]), segments[2], query)
    except (InvalidPath, UnicodeDecodeError):
        pass
    return not_found()


def _attempts(reader: LogReader, key: str) -> Response:
    attempts = {
        a.attempt_id: {"metadata": a.metadata, "result": a.result, "log_url": log_url(key, a.attempt_id)}
        for a in reader.attempts(key)
    }
    return Response(200, "application/json", json.dumps({"attempts": attempts}).encode())


def log_url(key: str, attempt_id: str) -> str:
    return LOGS_PREFIX + "/".join(quote(part, safe="") for part in (*key.split("/"), attempt_id))


def _log(reader: LogReader, key: str, attempt_id: str, query: str) -> Response:
    wanted = parse_qs(query).get("from_byte")
    start = 0
    if wanted is not None:
        if not (wanted[0].isascii() and wanted[0].isdigit()):
            return Response(400, TEXT, b"from_byte is a byte offset\n")
        start = int(wanted[0])
    finished = reader.finished(key, attempt_id)  # before reading: a finished log is then whole
    log = reader.open_log(key, attempt_id)
    if log is None:
        return not_found()
    size = os.fstat(log.fileno()).st_size
    log.seek(min(start, size))
    length = max(size - start, 0)
    if wanted is not None:
        length = min(length, CHUNK_BYTES)
    headers = ((FINISHED_HEADER, "yes" if finished else "no"),)
    return Response(200, TEXT, file=log, length=length, headers=headers)
