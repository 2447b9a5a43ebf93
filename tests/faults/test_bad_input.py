"""Bad input with the whole fleet running: refused or dead-lettered, and every worker goes on.

Into every work queue of the topology (a consumer for each running), straight
through pika: a body that is not JSON, JSON of the wrong shape, a message of
another queue's kind, the queue's own message with every field of the wrong
type, and the same above the receiver's 25 MiB limit (the only size limit before
the broker's). Each must land in its queue's `.dead` queue with a reason, be
counted by `tickborg stats`, and leave every worker process running and
consuming; a good pull request sent afterwards completes.

Hostile webhooks go to the receiver (tests/webhook has each answer in detail;
this is the fleet's view): the ones it must refuse get their 4xx and reach no
queue; the signed ones it accepts end harmlessly, each accounted for.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from fault_fleet import LIBFOO_RUN, PullRequest, StartFleet
from fleet_control import config_variant, consumers, declare_topology, view
from hostile_input import bad_bodies, examples, post, post_oversized
from support.metrics import scrape
from support.process import tickborg_process, wait_until
from support.rabbit import free_port
from support.receiving import WEBHOOK_SECRET
from support.runtime import Broker
from support.whole_fleet import PROCESSES, SYSTEM
from tickborg.config import RabbitMQConfig, load_config
from tickborg.demo.webhooks import delivery_headers
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.topology import (
    EVALUATION_INPUTS,
    GITHUB_EVENTS,
    UNKNOWN_EVENTS,
    build_topology,
    dead_queue,
)

SUCCESS = f"completed: eval success; {LIBFOO_RUN}: success"
DECODE_FAILURE = "decode failure: "
# Deeper than any JSON parser here recurses.
DEEP = b"[" * 100_000 + b"]" * 100_000
TAP = "test-tap"


def dead_lettered(metrics_url: str) -> dict[str, float]:
    """`tickborg_dead_lettered_total` by queue, summed over the processes that sent it."""
    counted: dict[str, float] = {}
    for (name, labels), value in scrape(metrics_url).items():
        if name == "tickborg_dead_lettered_total":
            queue = dict(labels)["queue"]
            counted[queue] = counted.get(queue, 0) + value
    return counted


def test_bad_messages_in_every_work_queue_are_dead_lettered_and_every_worker_goes_on(
    start_fleet: StartFleet, rabbitmq_config: RabbitMQConfig, tmp_path: Path
) -> None:
    fleet = start_fleet()
    port = free_port()
    config = config_variant(
        fleet.flow.config_path, "every-consumer", log_storage={"path": str(tmp_path / "logs")}, stats={"listen": f"127.0.0.1:{port}"}
    )
    declare_topology(config)
    work = [queue.name for queue in build_topology(load_config(config)).queues if queue.is_work_queue]
    consumer, good = consumers(SYSTEM), examples(SYSTEM)
    assert sorted(consumer) == sorted(work), "every work queue needs its consumer (and a good message) here"
    sent = {queue: bad_bodies(queue, good) for queue in work}
    with ExitStack() as stack:
        others = {
            name: stack.enter_context(tickborg_process(name, config, tmp_path / f"{name}.log"))
            for name in dict.fromkeys(consumer.values())
            if name not in PROCESSES
        }
        wait_until(lambda: [view(rabbitmq_config, queue).consumers for queue in work] == [1] * len(work), 60)
        with Broker(rabbitmq_config) as broker:
            for queue, bodies in sent.items():
                for body in bodies.values():
                    broker.send(queue, body)
        wanted = {queue: len(bodies) for queue, bodies in sent.items()}
        wait_until(lambda: {queue: view(rabbitmq_config, dead_queue(queue)).ready for queue in work} == wanted, 120)

        letters = fleet.ledger.dead_letters()
        got = {queue: sorted(letter.size for letter in letters if letter.queue == queue) for queue in work}
        assert got == {queue: sorted(map(len, bodies.values())) for queue, bodies in sent.items()}
        refused = [f"{letter.queue}: {letter.reason}" for letter in letters if not letter.reason.startswith(DECODE_FAILURE)]
        assert refused == [], "each is refused as it is decoded"
        metrics = f"http://127.0.0.1:{port}/metrics"
        # The stats process reports no events of its own (it would count its counting without end).
        counted = {queue: count for queue, count in wanted.items() if consumer[queue] != "stats"}
        wait_until(lambda: dead_lettered(metrics) == counted, 60)

        assert fleet.flow.exited() == {}
        assert {name: process.poll() for name, process in others.items() if process.poll() is not None} == {}
        assert [view(rabbitmq_config, queue).consumers for queue in work] == [1] * len(work)
        fleet.send(1)
        assert [account.outcome for account in fleet.ledger.wait_all_accounted(120)] == [SUCCESS]


def signed(event: str | None, body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """GitHub's headers for `body` (without X-GitHub-Event when `event` is None)."""
    headers = delivery_headers(secret, event or "-", body)
    if event is None:
        del headers["X-GitHub-Event"]
    return headers


def test_hostile_webhooks_are_refused_or_end_harmlessly_and_every_worker_goes_on(
    start_fleet: StartFleet, rabbitmq_config: RabbitMQConfig
) -> None:
    fleet = start_fleet(delivery_limit=3)
    flow, url = fleet.flow, fleet.receiver_url
    traversal, option, bad_name, dotted, negative, huge = (fleet.open_pr() for _ in range(6))

    def opened(pr: PullRequest) -> dict[str, Any]:
        return flow.opened(pr.head, pr.title, pr.number)

    def edited(pr: PullRequest, change: Callable[[dict[str, Any]], object]) -> bytes:
        payload = opened(pr)
        change(payload)
        return json.dumps(payload).encode()

    with Broker(rabbitmq_config) as broker:  # a tap on everything the receiver publishes
        broker.channel.queue_declare(TAP)
        broker.channel.queue_bind(TAP, GITHUB_EVENTS, "#")

    body = json.dumps(opened(traversal)).encode()
    refused = {
        "signed with another secret": post(url, body, signed("pull_request", body, "not-the-secret")),
        "not signed": post(url, body, {k: v for k, v in signed("pull_request", body).items() if not k.startswith("X-Hub")}),
        "not JSON, signed": post(url, b"{not json", signed("pull_request", b"{not json")),
        "nested too deep, signed": post(url, DEEP, signed("pull_request", DEEP)),
        "an event name that would widen the routing key": post(url, body, signed("pull_request.#", body)),
        "above 25 MiB": post_oversized(url, signed("pull_request", body)),
    }
    assert refused == {
        "signed with another secret": 403,
        "not signed": 400,
        "not JSON, signed": 400,
        "nested too deep, signed": 400,
        "an event name that would widen the routing key": 400,
        "above 25 MiB": 413,
    }
    assert view(rabbitmq_config, TAP).ready == 0

    def base(ref: str) -> Callable[[dict[str, Any]], object]:
        return lambda payload: payload["pull_request"]["base"].update(ref=ref)

    outside = {"full_name": "tick-org/../../etc", "name": "../../etc"}
    accepted = {
        "an unknown event": ("workflow_run", body),
        "no event header": (None, body),
        "a pull_request of the wrong shape": ("pull_request", b'{"action": "opened"}'),
        "a repository outside repos, named with ..": ("pull_request", edited(traversal, lambda p: p["repository"].update(outside))),
        "a base branch climbing out": ("pull_request", edited(traversal, base("../../../etc"))),
        "a base branch like a git option": ("pull_request", edited(option, base("--upload-pack=touch"))),
        "a repository name with ..": ("pull_request", edited(bad_name, lambda p: p["repository"].update(name=".."))),
        "a head sha of ..": ("pull_request", edited(dotted, lambda p: p["pull_request"]["head"].update(sha=".."))),
        "a negative PR number": ("pull_request", edited(negative, lambda p: p.update(number=-1))),
        "24 MiB, most of it unread": ("pull_request", edited(huge, lambda p: p.update(padding="x" * 24 * 1024 * 1024))),
    }
    answers = {what: post(url, data, signed(event, data)) for what, (event, data) in accepted.items()}
    assert answers == {what: 200 for what in accepted}
    assert view(rabbitmq_config, TAP).ready == len(accepted)

    for label, pr in (("climbing", traversal), ("option", option), ("bad name", bad_name), ("negative", negative)):
        fleet.ledger.accepted(pr.number, pr.head, (), label=label)
    fleet.ledger.accepted(huge.number, huge.head, (LIBFOO_RUN,), label="huge")
    outcomes = {account.webhook.label: account.outcome or "" for account in fleet.ledger.wait_all_accounted(120)}
    assert outcomes == {
        # Refused at the first attempt, the status saying why (before: retried until dead-lettered).
        "option": "completed: eval error",  # no branch name starts with "-"
        "climbing": "completed: eval error",  # nor holds ".."
        "bad name": "completed: eval error",  # the checkout refuses the repository name
        # The filter itself dead-letters it, saying why (before: one hop later, as the mass-rebuilder decoded it).
        "negative": f"dead: {EVALUATION_INPUTS}: pull request number -1: GitHub's start at 1",
        "huge": SUCCESS,
    }
    calls = flow.fake.calls
    # The head sha ".." named the commit, not a way up the path: GitHub finds no such commit, the job is acked.
    assert [(call.path, call.status) for call in calls if ".." in call.path] == [
        (f"/repos/{TEST_REPO}/commits/../statuses", 422)
    ]
    assert not any("etc" in call.path for call in calls)  # the repository outside repos was left alone
    # The ledger peeks at dead letters, which go back to their queue a moment after each read.
    dead: list[tuple[str, str]] = []

    def all_dead() -> bool:
        dead[:] = sorted((letter.queue, letter.reason) for letter in fleet.ledger.dead_letters())
        return [queue for queue, _ in dead] == [EVALUATION_INPUTS, EVALUATION_INPUTS]

    wait_until(all_dead, 30)
    assert dead == [
        (EVALUATION_INPUTS, f"{DECODE_FAILURE}pull_request: missing"),
        (EVALUATION_INPUTS, "pull request number -1: GitHub's start at 1"),
    ]
    final = flow.fake.state.statuses(TEST_REPO, option.head)[-1]
    assert final["state"] == "error"
    assert final["description"].startswith("git refused: not a branch name: '--upload-pack=touch'")
    assert view(rabbitmq_config, UNKNOWN_EVENTS).ready == 1  # the delivery without an event header

    assert flow.exited() == {}
    fleet.send(1)
    assert fleet.ledger.wait_all_accounted(120)[-1].outcome == SUCCESS
