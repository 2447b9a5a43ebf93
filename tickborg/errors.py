"""Exceptions shared across tickborg's modules."""

from typing import Any


class DecodeError(ValueError):
    """Input (an AMQP body, a webhook payload) that cannot become a job.

    The runtime answers it with NackDump: the message goes to its dead-letter
    queue with this text as the reason, and is never retried.
    """


def json_kind(value: Any) -> str:
    """The JSON type of a bad value, for a decode error. Only the type, never the
    value: bodies can be large or carry secrets, and errors end up in logs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"
