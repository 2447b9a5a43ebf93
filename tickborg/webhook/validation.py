"""Which answer a webhook request gets, decided from its parts without any I/O (SPEC §7).

The HTTP shell asks, in order: `route` (method and path), `content_length`
(before reading the body, so an oversized body is refused unread), then
`check_delivery` (signature, event header, JSON body). Whatever comes back as
`Rejected` is answered with its status and publishes nothing.
"""

from __future__ import annotations

import enum
import json
import re
from typing import Sequence
from urllib.parse import urlsplit

import attrs

from tickborg.webhook import routing, signature

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MiB
HEALTH_PATH = "/health"
_MAX_ROUTING_KEY_BYTES = 255  # an AMQP short string
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII; fits an AMQP message_id


@attrs.frozen
class Rejected:
    status: int
    reason: str


@attrs.frozen
class Accepted:
    """A verified delivery, to be published unchanged with this routing key."""

    routing_key: str
    event: str
    repository: str | None
    delivery: str | None


class Route(enum.Enum):
    WEBHOOK = "webhook"
    HEALTH = "health"
    NOT_ALLOWED = "not allowed"


def route(method: str, path: str) -> Route:
    """POST on any path is a delivery; GET/HEAD /health is the health check; else 405."""
    if method == "POST":
        return Route.WEBHOOK
    if method in ("GET", "HEAD") and urlsplit(path).path == HEALTH_PATH:
        return Route.HEALTH
    return Route.NOT_ALLOWED


def allowed_methods(path: str) -> str:
    """The `Allow` header of a 405 for `path`."""
    return "GET, HEAD, POST" if urlsplit(path).path == HEALTH_PATH else "POST"


def content_length(
    values: Sequence[str], transfer_encoding: str | None, limit: int = MAX_BODY_BYTES
) -> int | Rejected:
    """The body's length from the Content-Length header(s), or why it cannot be read.

    `limit` is the most the receiver would ever hold (at most GitHub's cap).
    """
    if transfer_encoding is not None:
        # GitHub always sends Content-Length; a chunked body could not be bounded before reading.
        return Rejected(411, "Transfer-Encoding is not supported, send Content-Length")
    if not values:
        return Rejected(411, "Content-Length required")
    distinct = {value.strip() for value in values}
    if len(distinct) != 1 or _CONTENT_LENGTH.fullmatch(next(iter(distinct))) is None:
        return Rejected(400, "invalid Content-Length")
    length = int(next(iter(distinct)))
    most = min(limit, MAX_BODY_BYTES)
    if length > most:
        return Rejected(413, f"body larger than {most} bytes")
    return length


def check_delivery(
    secret: bytes,
    body: bytes,
    signature_header: str | None,
    event_header: str | None,
    delivery_header: str | None,
) -> Accepted | Rejected:
    """Verify a delivery and derive its routing key; the body is parsed only once signed."""
    verdict = signature.check(secret, body, signature_header)
    if verdict is signature.Verdict.MISMATCH:
        return Rejected(403, verdict.value)
    if verdict is not signature.Verdict.VALID:
        return Rejected(400, verdict.value)
    event = routing.event_name(event_header)
    if not routing.is_valid_event(event):
        return Rejected(400, "invalid X-GitHub-Event")
    if delivery_header is not None and _DELIVERY_ID.fullmatch(delivery_header) is None:
        return Rejected(400, "invalid X-GitHub-Delivery")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return Rejected(400, "body is not JSON")
    repository = routing.repository_name(payload)
    key = routing.routing_key(event, repository)
    if len(key.encode()) > _MAX_ROUTING_KEY_BYTES:
        return Rejected(400, "repository.full_name too long for a routing key")
    return Accepted(key, event, repository, delivery_header)
