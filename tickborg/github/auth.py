"""GitHub App authentication: App JWTs, installation ids and installation tokens.

One `AppAuth` per process holds the caches (per repository: installation id;
per installation: token), so several installations can be served at once.
The JWT and the tokens live only in memory and in Authorization headers; log
lines name installations and expiry times, never the values.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

import attrs
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tickborg.github.fields import field, timestamp, top_object
from tickborg.github.transport import Clock, Transport, repo_path
from tickborg.logsetup import get_logger

log = get_logger(__name__)
T = TypeVar("T")

# GitHub refuses an App JWT whose `exp` is more than ten minutes ahead; backdate
# `iat` and stay under the cap so a server clock a little off still accepts it.
JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 540
DEFAULT_RENEW_MARGIN_SECONDS = 300.0


@attrs.frozen
class InstallationToken:
    value: str = attrs.field(repr=False)
    expires_at: float  # epoch seconds

    def fresh(self, now: float, margin: float) -> bool:
        return now < self.expires_at - margin


def load_private_key(pem: str) -> RSAPrivateKey:
    """The App's RSA key; ValueError (without the key text) when it is not one."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("not an RSA private key (GitHub Apps sign with RS256)")
    return key


def app_jwt_claims(app_id: int, now: float) -> dict[str, Any]:
    issued = int(now) - JWT_BACKDATE_SECONDS
    return {"iat": issued, "exp": int(now) + JWT_LIFETIME_SECONDS, "iss": str(app_id)}


def parse_installation_response(body: Any) -> int:
    return field(top_object(body, "installation"), "id", int)


def parse_token_response(body: Any) -> InstallationToken:
    token = top_object(body, "access token response")
    return InstallationToken(field(token, "token", str), timestamp(token, "expires_at"))


class AppAuth:
    """Authorization for a GitHub App, caching what GitHub lets it reuse.

    `renew_margin` (seconds) is how long before `expires_at` a cached token is
    replaced; tests shorten it along with the token lifetime.
    """

    def __init__(
        self,
        transport: Transport,
        app_id: int,
        private_key: RSAPrivateKey,
        clock: Clock,
        installation_id: int | None = None,
        renew_margin: float = DEFAULT_RENEW_MARGIN_SECONDS,
    ) -> None:
        self._transport = transport
        self._app_id = app_id
        self._key = private_key
        self._clock = clock
        self._configured_installation = installation_id
        self._renew_margin = renew_margin
        # One lock for both caches: a token request then happens once, not
        # once per thread that found the cache empty.
        self._lock = threading.Lock()
        self._installations: dict[str, int] = {}
        self._tokens: dict[int, InstallationToken] = {}

    def app_jwt(self) -> str:
        return jwt.encode(app_jwt_claims(self._app_id, self._clock()), self._key, algorithm="RS256")

    def _as_app(self, method: str, path: str, parse: Callable[[Any], T]) -> T:
        response = self._transport.send(
            method, self._transport.url(path), authorization=f"Bearer {self.app_jwt()}"
        )
        return self._transport.decode(response, parse)

    def installation_for(self, full_name: str) -> int:
        """The installation serving `owner/name`: from config, else asked once and cached."""
        if self._configured_installation is not None:
            return self._configured_installation
        key = full_name.lower()  # GitHub names are case-insensitive
        with self._lock:
            if key not in self._installations:
                self._installations[key] = self._as_app(
                    "GET", repo_path(full_name, "installation"), parse_installation_response
                )
                log.info(
                    "github installation found", repo=full_name, installation_id=self._installations[key]
                )
            return self._installations[key]

    def token_for(self, installation_id: int) -> str:
        """A token for the installation, reused until `renew_margin` before it expires."""
        with self._lock:
            now = self._clock()
            cached = self._tokens.get(installation_id)
            if cached is None or not cached.fresh(now, self._renew_margin):
                fresh = self._as_app(
                    "POST", f"/app/installations/{installation_id}/access_tokens", parse_token_response
                )
                log.info(
                    "github installation token issued",
                    installation_id=installation_id,
                    expires_in_seconds=round(fresh.expires_at - now),
                    renewal=cached is not None,
                )
                self._tokens[installation_id] = cached = fresh
            return cached.value

    def drop_token(self, installation_id: int, token: str) -> None:
        """Forget a token GitHub refused, unless another thread has replaced it already."""
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached.value == token:
                del self._tokens[installation_id]
                log.info("github installation token dropped", installation_id=installation_id)
