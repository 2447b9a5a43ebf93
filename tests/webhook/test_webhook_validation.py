"""From a request's parts to its answer, without a server or a broker."""

import json

import pytest

from tickborg.webhook.signature import sign
from tickborg.webhook.validation import (
    MAX_BODY_BYTES,
    Accepted,
    Rejected,
    Route,
    allowed_methods,
    check_delivery,
    content_length,
    route,
)

SECRET = b"s3cret"
BODY = json.dumps({"action": "opened", "repository": {"full_name": "acme/site.github.io"}}).encode()


def deliver(body: bytes = BODY, event: str | None = "pull_request", delivery: str | None = "d-1", **kw: object):
    signature = kw.get("signature", sign(SECRET, body))
    return check_delivery(SECRET, body, signature, event, delivery)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/", Route.WEBHOOK),
        ("POST", "/any/path?x=1", Route.WEBHOOK),
        ("POST", "/health", Route.WEBHOOK),
        ("GET", "/health", Route.HEALTH),
        ("HEAD", "/health?probe=1", Route.HEALTH),
        ("GET", "/", Route.NOT_ALLOWED),
        ("PUT", "/", Route.NOT_ALLOWED),
        ("DELETE", "/health", Route.NOT_ALLOWED),
    ],
)
def test_route(method: str, path: str, expected: Route) -> None:
    assert route(method, path) is expected


def test_allowed_methods() -> None:
    assert allowed_methods("/health?x=1") == "GET, HEAD, POST"
    assert allowed_methods("/") == "POST"


@pytest.mark.parametrize(
    ("values", "transfer_encoding", "expected"),
    [
        (["123"], None, 123),
        (["0"], None, 0),
        ([str(MAX_BODY_BYTES)], None, MAX_BODY_BYTES),
        (["12", "12"], None, 12),
        ([str(MAX_BODY_BYTES + 1)], None, 413),
        ([], None, 411),
        ([], "chunked", 411),
        (["12"], "chunked", 411),
        (["-1"], None, 400),
        (["12a"], None, 400),
        (["1.5"], None, 400),
        (["²"], None, 400),
        (["12", "13"], None, 400),
        (["9" * 40], None, 400),
    ],
)
def test_content_length(values: list[str], transfer_encoding: str | None, expected: int) -> None:
    result = content_length(values, transfer_encoding)
    if isinstance(result, Rejected):
        assert result.status == expected
    else:
        assert result == expected


def test_content_length_beyond_a_smaller_limit_is_413() -> None:
    assert content_length(["1000"], None, limit=1000) == 1000
    assert content_length(["1001"], None, limit=1000) == Rejected(413, "body larger than 1000 bytes")
    assert content_length([str(MAX_BODY_BYTES + 1)], None, limit=MAX_BODY_BYTES * 2) == Rejected(
        413, f"body larger than {MAX_BODY_BYTES} bytes"
    )


def test_a_signed_json_delivery_is_accepted_with_its_routing_key() -> None:
    assert deliver() == Accepted("pull_request.acme/site.github.io", "pull_request", "acme/site.github.io", "d-1")


def test_missing_event_header_routes_as_unknown_and_no_repository_as_dash() -> None:
    assert deliver(event=None).routing_key == "unknown.acme/site.github.io"
    assert deliver(b'{"zen": "hi"}', event="ping").routing_key == "ping.-"


def test_delivery_header_is_optional() -> None:
    assert deliver(delivery=None).delivery is None


REJECTIONS = {
    "no signature": ({"signature": None}, 400),
    "sha1 signature": ({"signature": "sha1=" + "00" * 20}, 400),
    "bad hex": ({"signature": "sha256=nothex"}, 400),
    "other secret": ({"signature": sign(b"wrong", BODY)}, 403),
    "dotted event": ({"event": "pull.request"}, 400),
    "empty event": ({"event": ""}, 400),
    "delivery with space": ({"delivery": "has space"}, 400),
    "delivery too long": ({"delivery": "x" * 256}, 400),
    "not json": ({"body": b"not json"}, 400),
    "not utf-8": ({"body": b"\xff\xfe{"}, 400),
    "absurdly nested": ({"body": b"[" * 100_000}, 400),
    "empty body": ({"body": b""}, 400),
    "routing key too long": ({"body": json.dumps({"repository": {"full_name": "a/" + "b" * 300}}).encode()}, 400),
}


@pytest.mark.parametrize(("kwargs", "status"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_rejections(kwargs: dict, status: int) -> None:
    result = deliver(**kwargs)
    assert isinstance(result, Rejected) and result.status == status, result


def test_the_signature_is_checked_before_the_body_is_parsed() -> None:
    assert deliver(b"not json", signature=sign(b"wrong", b"not json")) == Rejected(
        403, "signature does not match the body"
    )
