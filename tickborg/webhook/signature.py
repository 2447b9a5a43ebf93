"""GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`."""

from __future__ import annotations

import enum
import hashlib
import hmac

PREFIX = "sha256="
_DIGEST_BYTES = hashlib.sha256().digest_size


class Verdict(enum.Enum):
    VALID = "valid"
    MISSING = "missing X-Hub-Signature-256 (SHA-1 X-Hub-Signature alone is not accepted)"
    UNSUPPORTED_ALGORITHM = "signature algorithm is not sha256"
    BAD_HEX = "signature is not 64 hexadecimal digits"
    MISMATCH = "signature does not match the body"


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for `body` (used by tests, benchmarks and the demo)."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check(secret: bytes, body: bytes, header: str | None) -> Verdict:
    if header is None or not header.strip():
        return Verdict.MISSING
    algorithm, sep, hex_digest = header.strip().partition("=")
    if not sep or algorithm.lower() != PREFIX[:-1]:
        return Verdict.UNSUPPORTED_ALGORITHM
    try:
        claimed = bytes.fromhex(hex_digest)
    except ValueError:
        return Verdict.BAD_HEX
    if len(claimed) != _DIGEST_BYTES:
        return Verdict.BAD_HEX
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    return Verdict.VALID if hmac.compare_digest(expected, claimed) else Verdict.MISMATCH
