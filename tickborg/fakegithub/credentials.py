"""How the fake GitHub checks credentials: App JWTs and installation tokens."""

from __future__ import annotations

from typing import Any

import jwt

# GitHub refuses an App JWT that expires more than ten minutes ahead.
MAX_JWT_LIFETIME = 600
# Leeway for `iat` in the future, as for clocks a little apart.
CLOCK_SKEW = 30


def bearer(authorization: str | None) -> str | None:
    """The credential of `Authorization: Bearer X` or `Authorization: token X`."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() not in ("bearer", "token"):
        return None
    return credential.strip() or None


def app_jwt_problem(token: str | None, public_key: Any, app_id: int, now: float) -> str | None:
    """Why GitHub would refuse this App JWT, or None when it is good.

    The times are checked against `now` (the fake's clock), not the wall clock,
    so tests can move time.
    """
    if token is None:
        return "no credentials"
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_iss": False,
                "require": ["iat", "exp", "iss"],
            },
        )
    except jwt.InvalidTokenError as exc:
        return f"not a JWT signed by the App's key ({type(exc).__name__})"
    if str(claims["iss"]) != str(app_id):
        return "iss is not the App id"
    if not all(isinstance(claims[c], (int, float)) for c in ("iat", "exp")):
        return "iat and exp must be numbers"
    if claims["exp"] <= now:
        return "expired"
    if claims["exp"] > now + MAX_JWT_LIFETIME:
        return "exp is more than ten minutes ahead"
    if claims["iat"] > now + CLOCK_SKEW:
        return "issued in the future"
    return None
