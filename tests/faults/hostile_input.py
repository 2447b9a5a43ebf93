"""Bad input for the fault suite: broken messages for every work queue, and webhook
requests sent as an attacker (or a broken proxy) would send them.

Every work queue of the topology takes one kind of message; `examples` holds a
good one for each (a real webhook payload or a wire fixture), from which
`bad_bodies` derives the bad ones.
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests

from fleet_control import consumers
from support.paths import WIRE
from support.webhooks import load_webhook
from tickborg.topology import EVALUATION_JOBS, STATS_EVENTS
from tickborg.webhook.validation import MAX_BODY_BYTES

# The good message each consumer takes: a real webhook payload, or a wire fixture.
WEBHOOK_EXAMPLES = {
    "evaluation-filter": "pull_request.opened",
    "github-comment-filter": "issue_comment.created",
    "push-filter": "push.branch",
    "github-rerun-filter": "check_run.rerequested",
}
WIRE_EXAMPLES = {
    "mass-rebuilder": "evaluation-job",
    "builder": "build-job.pr",
    "github-comment-poster": "build-result.v1.success",
    "log-message-collector": "build-log-msg",
    "stats": "stats-event-message",
}


def example(process: str) -> dict[str, Any]:
    if process in WEBHOOK_EXAMPLES:
        return load_webhook(WEBHOOK_EXAMPLES[process])
    return json.loads((WIRE / f"{WIRE_EXAMPLES[process]}.json").read_text())


def examples(system: str) -> dict[str, dict[str, Any]]:
    """A good message for each work queue of a fleet whose systems are `[system]`."""
    return {queue: example(process) for queue, process in consumers(system).items()}


def wrong_types(message: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of the message one level too deep: each a list holding its value."""
    return {key: [value] for key, value in message.items()}


def bad_bodies(queue: str, good: Mapping[str, Mapping[str, Any]]) -> dict[str, bytes]:
    """Bodies `queue` must refuse, made from the good messages of every queue (`examples`)."""
    own = good[queue]
    # A stats event is no other queue's kind; the stats queue gets an evaluation job.
    other = good[EVALUATION_JOBS if queue == STATS_EVENTS else STATS_EVENTS]
    return {
        "not JSON": b"\xff\xfe{ not json",
        "wrong shape": json.dumps([own]).encode(),
        "another kind": json.dumps(other).encode(),
        "wrong types": json.dumps(wrong_types(own)).encode(),
        # Above the receiver's limit (GitHub's cap), the only size limit there is before the broker's.
        "huge": json.dumps({**wrong_types(own), "padding": "x" * (MAX_BODY_BYTES + 1)}).encode(),
    }


def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """The receiver's answer to one POST."""
    return requests.post(url, data=body, headers=dict(headers), timeout=30).status_code


def post_oversized(url: str, headers: Mapping[str, str]) -> int:
    """The answer to a POST announcing a body above GitHub's cap, of which only the first KiB is sent."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.putrequest("POST", where.path or "/")
        for name, value in {**headers, "Content-Length": str(MAX_BODY_BYTES + 1)}.items():
            connection.putheader(name, value)
        connection.endheaders(b"{" * 1024)
        return connection.getresponse().status
    finally:
        connection.close()
