"""The fake GitHub in its own process, set up and read back through its /_fake/ control API."""

from __future__ import annotations

from typing import Any, Sequence

import requests


class ControlFailed(Exception):
    """The fake refused a control request."""


class FakeGitHubControl:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()

    def is_up(self) -> bool:
        try:
            return self._session.get(f"{self.url}/_fake/violations", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def add_commits(self, repo: str, shas: Sequence[str]) -> None:
        self._post(f"/_fake/repos/{repo}/commits", {"shas": list(shas)})

    def add_pull_request(self, repo: str, **arguments: Any) -> None:
        self._post(f"/_fake/repos/{repo}/pulls", arguments)

    def snapshot(self, repo: str) -> dict[str, Any]:
        """Statuses, check runs and issues (labels, comments) as GitHub would show them."""
        return self._get(f"/_fake/repos/{repo}")

    def violations(self) -> list[str]:
        return self._get("/_fake/violations")

    def _get(self, path: str) -> Any:
        response = self._session.get(self.url + path, timeout=10)
        if response.status_code != 200:
            raise ControlFailed(f"GET {path}: {response.status_code} {response.text[:200]}")
        return response.json()

    def _post(self, path: str, body: Any) -> None:
        response = self._session.post(self.url + path, json=body, timeout=10)
        if response.status_code != 201:
            raise ControlFailed(f"POST {path}: {response.status_code} {response.text[:200]}")
