"""Helpers for the filter tests: reading actions back as a policy verdict; what a PR lookup answers."""

from __future__ import annotations

import json
from typing import Any, Sequence

from filter_payloads import JSON, PR_NUMBER
from tickborg.filters.policy import Verdict
from tickborg.github.models import PullRequest
from tickborg.runtime.actions import Ack, Action, NackDump, NackRequeue, Publish
from tickborg.runtime.worker import Delivery


def delivery(body: bytes, queue: str = "in", routing_key: str = "") -> Delivery:
    return Delivery(queue=queue, routing_key=routing_key, content_type=JSON, body=body)


def verdict_of(actions: Sequence[Action]) -> Verdict:
    """Which row of a policy table a list of actions carries out."""
    *publishes, last = actions
    assert all(isinstance(p, Publish) for p in publishes), actions
    if isinstance(last, Ack):
        return Verdict.PUBLISH_ACK if publishes else Verdict.ACK
    assert not publishes, actions
    if isinstance(last, NackRequeue):
        return Verdict.NACK_REQUEUE
    assert isinstance(last, NackDump), actions
    return Verdict.NACK_DUMP


def published(actions: Sequence[Action]) -> list[tuple[str, str, Any]]:
    """(exchange, routing key, JSON value) of every publish, as the broker would get them."""
    return [(a.exchange, a.routing_key, json.loads(a.body())) for a in actions if isinstance(a, Publish)]


def pull(
    head_sha: str, state: str = "open", base_ref: str = "main", number: int = PR_NUMBER
) -> PullRequest:
    """A PR as `GitHubClient.get_pull_request` returns it."""
    return PullRequest(
        number=number,
        title="A change",
        state=state,
        user_login="bob",
        draft=False,
        merged=False,
        head_sha=head_sha,
        head_ref=f"pr-{number}",
        base_sha="b" * 40,
        base_ref=base_ref,
    )
