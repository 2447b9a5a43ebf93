"""Typed access to JSON objects from GitHub that names a bad field by its dotted path.

Webhook payloads and API responses are both read through these, so a missing
or mistyped field always surfaces as `DecodeError("pull_request.head.sha: missing")`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar

from tickborg.errors import DecodeError, json_kind

T = TypeVar("T")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CHECKS: dict[type, tuple[str, Callable[[Any], bool]]] = {
    str: ("a string", lambda v: isinstance(v, str)),
    int: ("an integer", _is_int),
    bool: ("a boolean", lambda v: isinstance(v, bool)),
    dict: ("an object", lambda v: isinstance(v, dict)),
    list: ("a list", lambda v: isinstance(v, list)),
}


def typed(value: Any, kind: type[T], path: str) -> T:
    what, check = _CHECKS[kind]
    if not check(value):
        raise DecodeError(f"{path}: expected {what}, got {json_kind(value)}")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def field(obj: Mapping[str, Any], key: str, kind: type[T], path: str = "") -> T:
    """`obj[key]` of type `kind`; `path` is obj's own dotted path ("" at the top)."""
    if key not in obj:
        raise DecodeError(f"{_join(path, key)}: missing")
    return typed(obj[key], kind, _join(path, key))


def timestamp(obj: Mapping[str, Any], key: str, path: str = "") -> float:
    """An ISO 8601 time string (as GitHub writes them), as a Unix timestamp."""
    text = field(obj, key, str, path)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise DecodeError(f"{_join(path, key)}: not an ISO 8601 time: {text!r}") from None


def optional(obj: Mapping[str, Any], key: str, kind: type[T], path: str, default: T) -> T:
    """Like `field`, but an absent or null value gives `default`."""
    if obj.get(key) is None:
        return default
    return field(obj, key, kind, path)


def nested(obj: Mapping[str, Any], key: str, path: str = "") -> tuple[dict[str, Any], str]:
    """A nested object and its own dotted path, for reading its fields."""
    return field(obj, key, dict, path), _join(path, key)


def strings(obj: Mapping[str, Any], key: str, path: str = "") -> tuple[str, ...]:
    full = _join(path, key)
    items = field(obj, key, list, path)
    return tuple(typed(item, str, f"{full}[{i}]") for i, item in enumerate(items))


def login(obj: Mapping[str, Any], key: str, path: str = "") -> str:
    """The `login` of a user object such as `pull_request.user`."""
    user, user_path = nested(obj, key, path)
    return field(user, "login", str, user_path)


def top_object(payload: Any, what: str = "payload") -> dict[str, Any]:
    return typed(payload, dict, what)
