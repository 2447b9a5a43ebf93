"""What logapi serves for the PR: its attempts, each with its result and log."""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs, quote, urlsplit

import requests


def log_key(details_url: str) -> str | None:
    """The log key a check run's details_url (logapi's page, `?key=...`) names."""
    keys = parse_qs(urlsplit(details_url).query).get("key")
    return keys[0] if keys else None


def attempts(logapi_url: str, key: str) -> list[Mapping[str, Any]]:
    """Each attempt logapi has for `key`: its log's URL, the build's status (None while running), line count."""
    response = requests.get(f"{logapi_url}/logs/{quote(key, safe='/')}", timeout=10)
    response.raise_for_status()
    found = []
    for attempt in response.json()["attempts"].values():
        url = logapi_url + attempt["log_url"]
        log = requests.get(url, timeout=10)
        result = attempt.get("result") or {}
        found.append({"url": url, "status": result.get("status"), "lines": len(log.text.splitlines())})
    return found
