"""The webhook receiver in this process, for end-to-end tests: signed deliveries as GitHub sends them."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import requests

from support.process import wait_until
from tickborg.config import Config
from tickborg.demo.webhooks import delivery_headers
from tickborg.webhook.receiver import build

WEBHOOK_SECRET = "filter-tests-webhook-secret"
Post = Callable[[str, Mapping[str, Any]], str]


def private_file(path: Path, content: str) -> Path:
    path.write_text(content)
    path.chmod(0o600)
    return path


def receiver_healthy(url: str) -> bool:
    """The receiver at `url` (ending in /) would take a webhook: its broker channel is up."""
    try:
        return requests.get(f"{url}health", timeout=5).status_code == 200
    except requests.ConnectionError:  # not listening yet
        return False


@contextmanager
def webhook_receiver(config: Config) -> Iterator[Post]:
    """`post(event, payload)`: a signed delivery, as GitHub sends it; returns the routing key."""
    receiver = build(config)
    receiver.start()
    host, port = receiver.address
    # It answers 503 until its broker channel is up, as GitHub would then see.
    wait_until(lambda: receiver_healthy(f"http://{host}:{port}/"))

    def post(event: str, payload: Mapping[str, Any]) -> str:
        raw = json.dumps(payload).encode()
        headers = delivery_headers(WEBHOOK_SECRET, event, raw)
        response = requests.post(f"http://{host}:{port}/", data=raw, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.text

    try:
        yield post
    finally:
        receiver.stop()
