"""Real webhook payloads from tests/fixtures/github/webhooks, moved to another repository.

Adapting by code, not by editing copies, keeps the real payloads untouched.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from support.paths import WEBHOOKS


def load_webhook(name: str, full_name: str | None = None, clone_url: str | None = None) -> dict[str, Any]:
    """The payload `name` (without .json), retargeted to `full_name` when given.

    `clone_url` defaults to GitHub's URL for `full_name`.
    """
    payload = json.loads((WEBHOOKS / f"{name}.json").read_text(encoding="utf-8"))
    if full_name is None:
        return payload
    return retarget(payload, full_name, clone_url)


def retarget(payload: dict[str, Any], full_name: str, clone_url: str | None = None) -> dict[str, Any]:
    """A copy of `payload` whose repository (and the PR's head/base repositories) is `full_name`."""
    owner, _, name = full_name.partition("/")
    adapted = copy.deepcopy(payload)
    repos = [adapted.get("repository")]
    pull = adapted.get("pull_request") or {}
    repos += [pull.get("head", {}).get("repo"), pull.get("base", {}).get("repo")]
    for repo in filter(None, repos):
        repo["name"], repo["full_name"] = name, full_name
        repo["owner"]["login"] = owner
        repo["html_url"] = f"https://github.com/{full_name}"
        repo["clone_url"] = clone_url or f"https://github.com/{full_name}.git"
    return adapted
