"""Failed GitHub calls, classified once (SPEC §6).

The name `CommitStatusError` is tickborg's; it covers every GitHub call, not
only commit statuses. Workers decide ack/requeue from the variant alone:

| response                                             | variant       | retry?              |
|------------------------------------------------------|---------------|---------------------|
| 401                                                  | ExpiredCreds  | yes, new token      |
| 422 "No commit found for SHA..."                     | MissingSha    | no (skip)           |
| 403/429 with remaining 0, retry-after, or secondary  | RateLimited   | yes, after reset_at |
| 5xx, connection error, timeout                       | InternalError | yes                 |
| anything else                                        | Error         | no                  |

Exception texts carry the method, the URL path, the status and GitHub's
message, never request headers, so no credential can leak through them.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

import requests

from tickborg.logsetup import redact_text

# GitHub: without retry-after, wait at least a minute after a secondary rate limit.
SECONDARY_RATE_LIMIT_SECONDS = 60.0
_SECONDARY_MARKERS = ("secondary rate limit", "abuse detection")
_MISSING_SHA_PREFIX = "No commit found for SHA"
_MAX_MESSAGE = 300
_MAX_BODY = 2000
# Network trouble that another attempt may not meet. A body that is not JSON
# comes from a proxy or a GitHub hiccup, not from a request we got wrong.
_TRANSIENT = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.JSONDecodeError,
)


class CommitStatusError(Exception):
    """Any failed GitHub call. `retryable` tells a worker whether a requeue can help."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        # The start of the error response's body (redacted): a 422's `errors` say
        # which field GitHub refused, which `message` alone does not.
        self.body = body


class ExpiredCreds(CommitStatusError):
    """401 Bad credentials: the installation token (or App JWT) was refused."""

    retryable = True


class MissingSha(CommitStatusError):
    """The commit is gone (force-pushed away); the job is pointless."""


class RateLimited(CommitStatusError):
    """A primary or secondary rate limit; do not retry before `reset_at` (epoch seconds)."""

    retryable = True

    def __init__(self, message: str, status: int | None, reset_at: float, body: str = "") -> None:
        super().__init__(message, status, body)
        self.reset_at = reset_at


class InternalError(CommitStatusError):
    """GitHub failed (5xx) or could not be reached (connection error, timeout)."""

    retryable = True


class Error(CommitStatusError):
    """Any other failure (403 forbidden, 404, a 422 validation error, ...); not retried."""


def classify(failure: requests.Response | requests.RequestException, now: float) -> CommitStatusError:
    """The variant for a failed call: a non-2xx response or an exception from requests.

    `now` (epoch seconds) anchors relative rate-limit waits such as `retry-after`.
    """
    if isinstance(failure, requests.RequestException):
        return _classify_exception(failure)
    return _classify_response(failure, now)


def _classify_exception(exc: requests.RequestException) -> CommitStatusError:
    where = describe_call(exc.request)
    # str(exc) names host, port and path only; redact anyway in case a URL carried a secret.
    text = redact_text(f"{type(exc).__name__}: {exc}")[:_MAX_MESSAGE]
    if isinstance(exc, _TRANSIENT):
        return InternalError(f"{where}: {text}")
    return Error(f"{where}: {text}")


def _classify_response(response: requests.Response, now: float) -> CommitStatusError:
    status = response.status_code
    message = response_message(response)
    text = f"{describe_call(response.request)}: {status} {message}"
    body = redact_text(response.text.strip())[:_MAX_BODY]
    if status == 401:
        return ExpiredCreds(text, status, body)
    if status == 422 and message.startswith(_MISSING_SHA_PREFIX):
        return MissingSha(text, status, body)
    reset_at = rate_limit_reset(response, message, now)
    if reset_at is not None:
        return RateLimited(f"{text} (reset at {reset_at:.0f})", status, reset_at, body)
    if 500 <= status <= 599:
        return InternalError(text, status, body)
    return Error(text, status, body)


def rate_limit_reset(response: requests.Response, message: str, now: float) -> float | None:
    """When a rate-limited response may be retried (epoch seconds), or None if it is not one.

    Follows GitHub's advice: `retry-after` wins; else `x-ratelimit-reset` when
    `x-ratelimit-remaining` is 0; else (a secondary limit) at least a minute.
    A 429 is a rate limit whatever its headers say.
    """
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = _number(headers.get("retry-after"))
    exhausted = headers.get("x-ratelimit-remaining", "").strip() == "0"
    secondary = any(marker in message.lower() for marker in _SECONDARY_MARKERS)
    if not (retry_after is not None or exhausted or secondary or response.status_code == 429):
        return None
    if retry_after is not None:
        return now + retry_after
    reset = _number(headers.get("x-ratelimit-reset")) if exhausted else None
    if reset is not None and not secondary:
        return max(reset, now)
    return max(reset or now, now + SECONDARY_RATE_LIMIT_SECONDS)


def response_message(response: requests.Response) -> str:
    """GitHub's `message` from an error body, or the start of a non-JSON body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
    else:
        text = response.text.strip() or response.reason or ""
    return redact_text(text)[:_MAX_MESSAGE]


def describe_call(request: requests.PreparedRequest | None) -> str:
    """`METHOD /path` of a call, for messages (no query, no headers)."""
    if request is None or request.url is None:
        return "GitHub request"
    return f"{request.method} {urlsplit(request.url).path}"


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
