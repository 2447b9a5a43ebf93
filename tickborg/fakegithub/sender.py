"""The fake GitHub as a webhook sender: signed deliveries, GitHub's delivery log, redelivery.

As GitHub does: each event is POSTed once to the configured hook URL with
`X-GitHub-Event`, `X-GitHub-Delivery` (a GUID) and `X-Hub-Signature-256`,
given 10 seconds, and never retried. Every attempt is recorded as GitHub
lists it under `/app/hook/deliveries`; a redelivery is a new attempt with the
same GUID and payload and `redelivery: true`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from typing import Any, Mapping

import attrs
import requests

from tickborg.github.transport import Clock
from tickborg.logsetup import get_logger
from tickborg.webhook.signature import sign

log = get_logger(__name__)

# GitHub gives up on a delivery not answered within 10 seconds.
DELIVERY_TIMEOUT_SECONDS = 10.0
USER_AGENT = "GitHub-Hookshot/fake"


class NoHookUrl(Exception):
    """An event to send before a hook URL was configured."""


@attrs.frozen
class Delivery:
    """One delivery attempt, as GitHub records it."""

    id: int
    guid: str
    event: str
    payload: Mapping[str, Any]
    request_headers: Mapping[str, str]
    url: str
    delivered_at: float
    redelivery: bool
    duration: float
    status: str
    status_code: int  # 0: no HTTP answer (refused, timed out)
    response_body: str | None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


@attrs.frozen
class _Outcome:
    status: str
    status_code: int
    body: str | None


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> _Outcome:
    try:
        response = requests.post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS)
    except requests.Timeout:
        return _Outcome("timed out", 0, None)
    except requests.ConnectionError:
        return _Outcome("failed to connect", 0, None)
    status = "OK" if response.ok else f"Invalid HTTP Response: {response.status_code}"
    return _Outcome(status, response.status_code, response.text)


class HookSender:
    """The App's webhook: where to send, and every attempt so far (thread-safe)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._url: str | None = None
        self._secret = b""
        self._deliveries: list[Delivery] = []  # oldest first
        self._next_id = 1

    def configure(self, url: str, secret: str) -> None:
        with self._lock:
            self._url, self._secret = url, secret.encode()

    def send(self, event: str, payload: Mapping[str, Any]) -> Delivery:
        """Deliver a new event once and record the attempt (failed ones too)."""
        return self._attempt(event, payload, str(uuid.uuid4()), redelivery=False)

    def redeliver_later(self, original: Delivery) -> None:
        """As GitHub does after its 202: deliver again (same GUID and payload) on another thread."""
        threading.Thread(
            target=self._attempt,
            args=(original.event, original.payload, original.guid, True),
            name="fake-redelivery",
            daemon=True,
        ).start()

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self._lock:
            return next((d for d in self._deliveries if d.id == delivery_id), None)

    def deliveries(self) -> list[Delivery]:
        """Every attempt, newest first (as GitHub lists them)."""
        with self._lock:
            return self._deliveries[::-1]

    def _attempt(self, event: str, payload: Mapping[str, Any], guid: str, redelivery: bool) -> Delivery:
        with self._lock:
            url, secret = self._url, self._secret
        if url is None:
            raise NoHookUrl("the App has no webhook URL: configure it first")
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-Hub-Signature-256": sign(secret, body),
        }
        started, wall = self._clock(), time.monotonic()
        outcome = _post(url, body, headers)
        duration = round(time.monotonic() - wall, 3)
        with self._lock:
            delivery = Delivery(
                self._next_id, guid, event, copy.deepcopy(dict(payload)), headers, url, started,
                redelivery, duration, outcome.status, outcome.status_code, outcome.body,
            )
            self._next_id += 1
            self._deliveries.append(delivery)
        log.debug("fake github delivered", guid=guid, github_event=event, status_code=outcome.status_code)
        return delivery
