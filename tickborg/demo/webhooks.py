"""The two deliveries the demo makes, signed as GitHub signs them.

The payloads carry the fields tickborg reads (tickborg/github/events.py) in
GitHub's shape; the repository's clone_url is the local origin.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from tickborg.demo.monorepo import AUTHOR, COMMENT, NAME, OWNER, PR_NUMBER, PR_TITLE, REPO
from tickborg.webhook.signature import sign

INSTALLATION_ID = 1


class DeliveryRefused(Exception):
    """The receiver answered a delivery with something other than 200."""


def _repository(clone_url: str) -> dict[str, Any]:
    return {
        "name": NAME,
        "full_name": REPO,
        "owner": {"login": OWNER, "type": "Organization"},
        "clone_url": clone_url,
        "html_url": f"https://github.com/{REPO}",
        "default_branch": "main",
    }


def pull_request_opened(
    clone_url: str, head_sha: str, base_sha: str, number: int = PR_NUMBER, title: str = PR_TITLE
) -> dict[str, Any]:
    return {
        "action": "opened",
        "number": number,
        "repository": _repository(clone_url),
        "installation": {"id": INSTALLATION_ID},
        "sender": {"login": AUTHOR},
        "pull_request": {
            "number": number,
            "state": "open",
            "draft": False,
            "title": title,
            "user": {"login": AUTHOR},
            "head": {"sha": head_sha, "ref": f"pr-{number}"},
            "base": {"sha": base_sha, "ref": "main"},
        },
    }


def comment_created(clone_url: str) -> dict[str, Any]:
    return {
        "action": "created",
        "repository": _repository(clone_url),
        "installation": {"id": INSTALLATION_ID},
        "sender": {"login": AUTHOR},
        "issue": {
            "number": PR_NUMBER,
            "state": "open",
            "title": PR_TITLE,
            "pull_request": {"url": f"https://api.github.com/repos/{REPO}/pulls/{PR_NUMBER}"},
        },
        "comment": {"id": 1001, "body": COMMENT, "user": {"login": AUTHOR}},
    }


def delivery_headers(secret: str, event: str, body: bytes) -> dict[str, str]:
    """The headers GitHub sends with a delivery of `body`: event, a fresh delivery id, the signature."""
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret.encode(), body),
    }


def deliver(url: str, secret: str, event: str, payload: dict[str, Any]) -> None:
    """POST `payload` as GitHub would."""
    body = json.dumps(payload).encode()
    response = requests.post(url, data=body, headers=delivery_headers(secret, event, body), timeout=15)
    if response.status_code != 200:
        raise DeliveryRefused(f"the receiver answered {event} with {response.status_code}: {response.text[:200]}")
