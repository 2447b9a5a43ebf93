"""Decoding a raw webhook body from `github-events` into an event model."""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

import attrs

from tickborg import messages

E = TypeVar("E")


@attrs.frozen
class _Model(Generic[E]):
    # `messages.decode` reads JSON strictly (UTF-8, no NaN, bounded nesting) and
    # hands the value to `from_json`; webhook models build from `from_payload`.
    from_json: Callable[[Any], E]


def decode_payload(body: bytes, from_payload: Callable[[Any], E]) -> E:
    """The event model of a webhook body; `DecodeError` for bad UTF-8, bad JSON or a bad payload."""
    return messages.decode(_Model(from_payload), body)
