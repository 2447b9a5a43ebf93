"""structlog set-up: human lines by default, JSON lines with TICKBORG_LOG_JSON=1.

Every line passes through `redact_secrets`, so a token, JWT or private key that
slips into an event never reaches the journal.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any, MutableMapping

import structlog

REDACTED = "[redacted]"

# Keys whose values are secret whatever they look like.
_SECRET_KEYS = re.compile(r"(token|secret|password|passwd|jwt|private_key|authorization)", re.I)
# Values that look like credentials wherever they appear inside a string.
_SECRET_VALUES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9_]{16,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{16,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|(?<=[Tt]oken )[A-Za-z0-9_.-]{16,}"
    r"|(?<=Bearer )[A-Za-z0-9_.-]{16,})",
    re.S,
)


def redact_text(text: str) -> str:
    return _SECRET_VALUES.sub(REDACTED, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if _SECRET_KEYS.search(str(k)) else _redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        value = event_dict[key]
        if _SECRET_KEYS.search(key) and value is not None:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(value)
    return event_dict


def _level(name: str | None) -> int:
    level = logging.getLevelName((name or "info").upper())
    return level if isinstance(level, int) else logging.INFO


def configure_logging(json_lines: bool | None = None, level: str | None = None) -> None:
    """Configure structlog for a process; call once at start-up."""
    if json_lines is None:
        json_lines = os.environ.get("TICKBORG_LOG_JSON") == "1"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    chain = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    threshold = _level(level or os.environ.get("TICKBORG_LOG"))
    _route_stdlib_logging(chain, renderer, threshold)
    structlog.configure(
        processors=[*chain, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        # sys.stderr looked up when a logger is made, not once: it may be replaced (tests).
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever sys.stderr is at the time (tests replace it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _route_stdlib_logging(chain: list[Any], renderer: Any, threshold: int) -> None:
    """pika and requests log through the standard library: give their lines the
    same format and redaction. Their chatter below WARNING is not ours to show."""
    handler = _CurrentStderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *chain],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(threshold, logging.WARNING))


def get_logger(name: str, **context: Any) -> Any:
    return structlog.get_logger(name).bind(**context) if context else structlog.get_logger(name)
