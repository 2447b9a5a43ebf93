"""The receiver in this process, real HTTP in front, the real RabbitMQ behind."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from support.paths import WEBHOOKS
from support.rabbit import free_port
from support.runtime import Broker
from webhook_helpers import SECRET, Client, Received, drain, raw_request, receiver_section, running, wait_until

from tickborg.config import Config, RabbitMQConfig
from tickborg.topology import COMMENT_INPUTS, EVALUATION_INPUTS, GITHUB_EVENTS, PUSH_INPUTS, UNKNOWN_EVENTS
from tickborg.webhook.receiver import Receiver, build
from tickborg.webhook.signature import sign
from tickborg.webhook.validation import MAX_BODY_BYTES

pytestmark = pytest.mark.broker

FIXTURES = sorted(WEBHOOKS.glob("*.json"))
PULL_REQUEST = WEBHOOKS / "pull_request.opened.json"
TAP = "test-tap"
QUEUE_OF_EVENT = {"pull_request": EVALUATION_INPUTS, "issue_comment": COMMENT_INPUTS, "push": PUSH_INPUTS}
INPUT_QUEUES = (EVALUATION_INPUTS, COMMENT_INPUTS, PUSH_INPUTS, UNKNOWN_EVENTS)


def event_of(fixture: Path) -> str:
    return fixture.name.split(".")[0]


def with_repository(payload: dict, full_name: str) -> dict:
    """The payload moved to another repository: names, URLs, every copy of the repository."""
    old = payload["repository"]["full_name"]
    moved = json.loads(json.dumps(payload).replace(old, full_name))
    owner, name = full_name.split("/")
    repositories = [moved["repository"]]
    if "pull_request" in moved:
        repositories += [moved["pull_request"][side]["repo"] for side in ("base", "head")]
    for repository in repositories:
        repository.update(full_name=full_name, name=name)
        repository["owner"]["login"] = owner
    assert old not in json.dumps(moved)
    return moved


@pytest.fixture
def config_for(make_config: Callable[..., Config], tmp_path: Path) -> Callable[..., Config]:
    def config(rabbitmq: RabbitMQConfig, **receiver: Any) -> Config:
        return make_config(
            rabbitmq=rabbitmq, github_webhook_receiver=receiver_section(tmp_path, free_port(), **receiver)
        )

    return config


@pytest.fixture
def broker(rabbitmq_config: RabbitMQConfig) -> Iterator[Broker]:
    broker = Broker(rabbitmq_config)
    yield broker
    broker.close()


@pytest.fixture
def receiver(config_for: Callable[[RabbitMQConfig], Config], rabbitmq_config: RabbitMQConfig) -> Iterator[Receiver]:
    with running(config_for(rabbitmq_config)) as receiver:
        yield receiver


@pytest.fixture
def client(receiver: Receiver) -> Iterator[Client]:
    client = Client(receiver.address)
    yield client
    client.close()


@pytest.fixture
def tap(broker: Broker, receiver: Receiver) -> str:
    """A queue that sees everything published to github-events."""
    broker.channel.queue_declare(TAP, exclusive=True)
    broker.channel.queue_bind(TAP, GITHUB_EVENTS, routing_key="#")
    return TAP


def ids(messages: list[Received]) -> list[str | None]:
    return [m.message_id for m in messages]


def test_every_fixture_is_published_unchanged_with_its_routing_key(client: Client, broker: Broker, tap: str) -> None:
    expected = []
    for fixture in FIXTURES:
        body = fixture.read_bytes()
        routing_key = f"{event_of(fixture)}.{json.loads(body)['repository']['full_name']}"
        response = client.post(body, event=event_of(fixture), delivery=f"delivery-{fixture.stem}")
        assert (response.status_code, response.text) == (200, routing_key), fixture.name
        expected.append(Received(routing_key, f"delivery-{fixture.stem}", "application/json", 2, body))

    assert drain(broker.channel, tap) == expected
    for queue in INPUT_QUEUES:
        wanted = [m.message_id for m in expected if QUEUE_OF_EVENT.get(m.routing_key.split(".")[0]) == queue]
        assert ids(drain(broker.channel, queue)) == wanted, queue


def test_a_repository_name_with_dots_routes_to_the_evaluation_inputs(client: Client, broker: Broker) -> None:
    body = json.dumps(with_repository(json.loads(PULL_REQUEST.read_bytes()), "acme/site.github.io")).encode()
    response = client.post(body, event="pull_request", delivery="dotted")
    assert (response.status_code, response.text) == (200, "pull_request.acme/site.github.io")
    assert drain(broker.channel, EVALUATION_INPUTS) == [
        Received("pull_request.acme/site.github.io", "dotted", "application/json", 2, body)
    ]


def test_missing_event_header_goes_to_the_unknown_queue(client: Client, broker: Broker) -> None:
    response = client.post(PULL_REQUEST.read_bytes(), event=None, delivery="no-event")
    assert (response.status_code, response.text) == (200, "unknown.Codertocat/Hello-World")
    assert ids(drain(broker.channel, UNKNOWN_EVENTS)) == ["no-event"]
    assert drain(broker.channel, EVALUATION_INPUTS) == []


def test_a_payload_without_repository_is_published_with_a_dash(client: Client, broker: Broker, tap: str) -> None:
    payload = json.loads((WEBHOOKS / "ping.json").read_bytes())
    del payload["repository"]
    response = client.post(json.dumps(payload).encode(), event="organization", delivery="org-level")
    assert (response.status_code, response.text) == (200, "organization.-")
    assert [(m.routing_key, m.message_id) for m in drain(broker.channel, tap)] == [("organization.-", "org-level")]


def test_health(client: Client) -> None:
    response = client.session.get(client.url + "/health")
    assert (response.status_code, response.text) == (200, "ok")
    head = client.session.head(client.url + "/health?probe=1")
    assert (head.status_code, head.content) == (200, b"")


def test_bad_requests_get_their_status_and_publish_nothing(client: Client, broker: Broker, tap: str) -> None:
    body = PULL_REQUEST.read_bytes()
    host, port = client.address
    head = f"POST /hook HTTP/1.1\r\nHost: {host}:{port}\r\nX-GitHub-Event: pull_request\r\n"
    sha1 = "sha1=" + "ab" * 20

    def post(**kw: object) -> int:
        return client.post(**{"body": body, **kw}).status_code  # type: ignore[arg-type]

    def raw(data: str, tail: bytes = b"") -> tuple[int, bool]:
        response = raw_request(client.address, data.encode() + tail)
        return response.status, response.closed

    statuses = {
        "no signature": post(signed=False),
        "sha1 only": post(signed=False, headers={"X-Hub-Signature": sha1}),
        "bad hex": post(headers={"X-Hub-Signature-256": "sha256=" + "zz" * 32}),
        "wrong algorithm": post(headers={"X-Hub-Signature-256": "sha512=" + "ab" * 64}),
        "mismatch": post(headers={"X-Hub-Signature-256": "sha256=" + "ab" * 32}),
        "not json": post(body=b"<xml/>"),
        "bad event header": post(event="pull_request.#"),
        "GET": client.session.get(client.url + "/").status_code,
        "PUT": client.session.put(client.url + "/", data=body).status_code,
        "DELETE /health": client.session.delete(client.url + "/health").status_code,
        # Only the first KiB of a body just over 25 MiB is sent: the answer comes without the rest.
        "oversize": raw(head + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n", b"{" * 1024),
        "oversize, expecting 100-continue": raw(
            head + f"Content-Length: {MAX_BODY_BYTES + 1}\r\nExpect: 100-continue\r\n\r\n"
        ),
        "no content-length": raw(head + "\r\n"),
        "invalid content-length": raw(head + "Content-Length: 12x\r\n\r\n"),
        "chunked": raw(head + "Transfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
    }
    assert statuses == {
        "no signature": 400,
        "sha1 only": 400,
        "bad hex": 400,
        "wrong algorithm": 400,
        "mismatch": 403,
        "not json": 400,
        "bad event header": 400,
        "GET": 405,
        "PUT": 405,
        "DELETE /health": 405,
        "oversize": (413, True),
        "oversize, expecting 100-continue": (413, True),
        "no content-length": (411, True),
        "invalid content-length": (400, True),
        "chunked": (411, True),
    }
    assert client.post(body, delivery="good").status_code == 200  # the tap works
    assert ids(drain(broker.channel, tap)) == ["good"]


def test_a_broker_nack_is_a_503(client: Client, broker: Broker) -> None:
    # A queue that refuses every message makes the broker nack what routes to it.
    refusing = {"x-max-length": 0, "x-overflow": "reject-publish"}
    broker.channel.queue_declare("refuser", exclusive=True, arguments=refusing)
    broker.channel.queue_bind("refuser", GITHUB_EVENTS, routing_key="refused.#")
    refused = client.post(PULL_REQUEST.read_bytes(), event="refused")
    assert (refused.status_code, refused.text) == (503, "broker unavailable, deliver again later")
    # The publisher leaves a channel that nacked (RabbitMQ may go on nacking on it):
    # deliveries are taken again once it is on a new connection.
    wait_until(lambda: client.post(PULL_REQUEST.read_bytes()).status_code == 200, timeout=10, what="taken again")


def test_concurrent_clients_all_confirmed_and_a_slow_client_stalls_nobody(
    config_for: Callable[[RabbitMQConfig], Config], rabbitmq_config: RabbitMQConfig, broker: Broker
) -> None:
    clients, per_client = 16, 25
    body = PULL_REQUEST.read_bytes()
    # A long socket timeout: were the slow client able to stall others, it would show.
    with running(config_for(rabbitmq_config, socket_timeout_seconds=60)) as receiver:
        slow = socket.create_connection(receiver.address)
        slow_head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nX-GitHub-Event: pull_request\r\n"
        slow.sendall(slow_head.encode())  # headers unfinished: its thread waits on this client

        statuses: dict[str, int] = {}

        def deliver(n: int) -> None:
            client = Client(receiver.address)
            for i in range(per_client):
                statuses[f"c{n}-{i}"] = client.post(body, delivery=f"c{n}-{i}").status_code
            client.close()

        started = time.monotonic()
        threads = [threading.Thread(target=deliver, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        slow.sendall(f"X-Hub-Signature-256: {sign(SECRET, body)}\r\nX-GitHub-Delivery: slow\r\n\r\n".encode())
        for offset in range(0, len(body), 4096):  # the body in dribs and drabs
            slow.sendall(body[offset : offset + 4096])
            time.sleep(0.02)
        slow_response = slow.recv(4096)
        slow.close()

    assert elapsed < 15, f"{clients * per_client} deliveries took {elapsed:.1f} s"
    assert set(statuses.values()) == {200} and len(statuses) == clients * per_client
    assert slow_response.startswith(b"HTTP/1.1 200 ")
    published = ids(drain(broker.channel, EVALUATION_INPUTS))
    assert sorted(published) == sorted([*statuses, "slow"])


def test_a_refused_declaration_keeps_it_unhealthy_until_resolved(
    config_for: Callable[[RabbitMQConfig], Config], rabbitmq_config: RabbitMQConfig, broker: Broker
) -> None:
    # The queue exists as a classic queue: declaring it as quorum is refused, channel closed.
    broker.channel.queue_declare(EVALUATION_INPUTS, durable=True)
    receiver = build(config_for(rabbitmq_config))
    receiver.start()
    try:
        client = Client(receiver.address)
        time.sleep(1.0)  # a few attempts (the test config retries after 0.2 s, at most 2 s)
        assert client.health() == 503
        assert client.post(PULL_REQUEST.read_bytes()).status_code == 503

        broker.channel.queue_delete(EVALUATION_INPUTS)
        wait_until(lambda: client.health() == 200, timeout=10, what="healthy after the conflict is gone")
        assert client.post(PULL_REQUEST.read_bytes(), delivery="resolved").status_code == 200
        client.close()
    finally:
        receiver.stop()
    assert ids(drain(broker.channel, EVALUATION_INPUTS)) == ["resolved"]
