"""The one place tickborg talks HTTP to GitHub: headers, timeout, base URL, classification.

Every call either returns a 2xx `requests.Response` or raises a
`CommitStatusError` from `classify`. The caller supplies the Authorization
value per request; it is never stored on the session, so it cannot show up in
a session repr, and never logged.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import quote

import requests

import tickborg
from tickborg.errors import DecodeError
from tickborg.github.errors import Error, classify, describe_call

Clock = Callable[[], float]
T = TypeVar("T")

API_VERSION = "2022-11-28"
DEFAULT_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": API_VERSION,
    "User-Agent": f"tickborg/{tickborg.__version__}",
}


def repo_path(full_name: str, *parts: str | int) -> str:
    """`/repos/{owner}/{name}/{parts...}`, each segment percent-encoded (labels have spaces)."""
    owner, sep, name = full_name.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"not an owner/name repository: {full_name!r}")
    return "/".join(["/repos", *(_segment(part) for part in (owner, name, *parts))])


def _segment(part: str | int) -> str:
    encoded = quote(str(part), safe="")
    # The HTTP client resolves "." and ".." segments away, which would send the
    # call to another endpoint (a head sha of ".." lists the repository's statuses).
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


class Transport:
    def __init__(
        self,
        api_url: str,
        timeout: float,
        clock: Clock,
        session: requests.Session | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._clock = clock
        self._session = session or requests.Session()
        self._session.headers.update(DEFAULT_HEADERS)

    def url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def owns(self, url: str) -> bool:
        """Whether `url` points into this API (pagination links must, or a token would leak)."""
        return url.startswith(self.api_url + "/")

    def send(
        self,
        method: str,
        url: str,
        authorization: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        try:
            response = self._session.request(
                method,
                url,
                headers={"Authorization": authorization},
                json=json,
                params=params,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            # `from None`: the classified error already says what happened, and a
            # chained urllib3 error would only repeat it in every traceback.
            raise classify(exc, self._clock()) from None
        if not response.ok:
            raise classify(response, self._clock())
        return response

    def decode(self, response: requests.Response, parse: Callable[[Any], T]) -> T:
        """The response body turned into a model by `parse`."""
        try:
            body = response.json()
        except requests.exceptions.JSONDecodeError as exc:
            exc.request = response.request  # so the error names the call
            raise classify(exc, self._clock()) from None
        try:
            return parse(body)
        except DecodeError as exc:
            # A 2xx body without the fields tickborg needs: not worth retrying.
            where = describe_call(response.request)
            raise Error(f"{where}: unexpected response: {exc}", response.status_code) from None

    def close(self) -> None:
        self._session.close()
