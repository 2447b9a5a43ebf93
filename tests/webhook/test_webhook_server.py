"""The HTTP shell against a stand-in publisher: confirm waits, outages and graceful stops."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import Future
from typing import Callable, Iterator

import pytest
from support.paths import WEBHOOKS
from support.rabbit import free_port
from webhook_helpers import SECRET, Client, wait_until

from tickborg.config import ListenAddress, Secret, WebhookReceiverConfig
from tickborg.publisher import Message, Unavailable
from tickborg.webhook.server import WebhookServer
from tickborg.webhook.signature import sign

BODY = (WEBHOOKS / "push.branch.json").read_bytes()


class StandInPublisher:
    """Records messages; `answer` decides what each submit gives back."""

    def __init__(self, answer: Callable[[Future[None]], None] = lambda f: f.set_result(None)) -> None:
        self.ready = True
        self.answer = answer
        self.messages: list[Message] = []
        self.pending: list[Future[None]] = []

    def submit(self, message: Message) -> Future[None]:
        if not self.ready:
            raise Unavailable("broker not connected")
        self.messages.append(message)
        future: Future[None] = Future()
        self.pending.append(future)
        self.answer(future)
        return future


class Serving:
    def __init__(self, publisher: StandInPublisher, confirm_timeout: float) -> None:
        settings = WebhookReceiverConfig(
            ListenAddress("127.0.0.1", free_port()),
            webhook_secret=Secret(SECRET.decode(), "test"),
            confirm_timeout_seconds=confirm_timeout,
            socket_timeout_seconds=30,
            request_deadline_seconds=30,
        )
        self.server = WebhookServer(settings, publisher)
        self.server.listen()
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()
        self.address = self.server.server_address[:2]
        self.stopped = False

    def stop(self) -> float:
        """Seconds the graceful stop took."""
        started = time.monotonic()
        self.server.stop()
        self.thread.join()
        self.stopped = True
        return time.monotonic() - started


@pytest.fixture
def serve() -> Iterator[Callable[..., Serving]]:
    running: list[Serving] = []

    def start(publisher: StandInPublisher, confirm_timeout: float = 5.0) -> Serving:
        running.append(Serving(publisher, confirm_timeout))
        return running[-1]

    yield start
    for serving in running:
        if not serving.stopped:
            serving.stop()


def test_a_confirmed_message_is_answered_with_its_routing_key(serve: Callable[..., Serving]) -> None:
    publisher = StandInPublisher()
    client = Client(serve(publisher).address)
    response = client.post(BODY, event="push", delivery="d-1")
    assert (response.status_code, response.text) == (200, "push.Codertocat/Hello-World")
    assert publisher.messages == [Message("push.Codertocat/Hello-World", BODY, "d-1")]


def test_no_confirm_in_time_is_a_503(serve: Callable[..., Serving]) -> None:
    client = Client(serve(StandInPublisher(answer=lambda future: None), confirm_timeout=0.3).address)
    started = time.monotonic()
    response = client.post(BODY)
    assert response.status_code == 503
    assert 0.3 <= time.monotonic() - started < 2


def test_broker_down_is_503_at_once_and_unhealthy(serve: Callable[..., Serving]) -> None:
    publisher = StandInPublisher()
    publisher.ready = False
    client = Client(serve(publisher).address)
    started = time.monotonic()
    assert client.post(BODY).status_code == 503
    assert time.monotonic() - started < 0.5
    assert client.health() == 503
    publisher.ready = True
    assert client.health() == 200


def test_stop_ends_idle_keep_alive_connections_at_once(serve: Callable[..., Serving]) -> None:
    serving = serve(StandInPublisher())
    client = Client(serving.address)
    assert client.post(BODY).status_code == 200  # the session keeps its connection open
    assert serving.stop() < 2  # not the 30 s socket timeout


def test_stop_answers_the_request_in_flight_and_closes_trickling_clients_at_once(
    serve: Callable[..., Serving],
) -> None:
    publisher = StandInPublisher(answer=lambda future: None)  # confirmed by the test, during the stop
    serving = serve(publisher)
    trickling = []
    for partial in (b"POST / HTT", b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{"):
        for _ in range(5):
            trickling.append(socket.create_connection(serving.address))
            trickling[-1].sendall(partial)
    client = Client(serving.address)
    responses = []
    request = threading.Thread(target=lambda: responses.append(client.post(BODY)))
    request.start()
    wait_until(lambda: publisher.pending, what="request in flight")

    stopping = threading.Thread(target=serving.stop)
    started = time.monotonic()
    stopping.start()
    try:
        time.sleep(0.7)  # longer than the accept loop's poll: the listener is closed by now
        with pytest.raises(OSError):
            socket.create_connection(serving.address, timeout=1).close()
        assert stopping.is_alive()  # still waiting for the request
        publisher.pending[0].set_result(None)
        stopping.join(2)
        took = time.monotonic() - started
        assert not stopping.is_alive(), "stop waits for the trickling clients"
    finally:
        for sock in trickling:
            sock.close()
        stopping.join()
    request.join(5)
    assert took < 2
    assert (responses[0].status_code, responses[0].headers["Connection"]) == (200, "close")


def test_signature_is_checked_over_http(serve: Callable[..., Serving]) -> None:
    publisher = StandInPublisher()
    client = Client(serve(publisher).address)
    forged = client.post(BODY, headers={"X-Hub-Signature-256": sign(b"not the secret", BODY)})
    assert forged.status_code == 403
    assert publisher.messages == []


def test_other_methods_are_405_naming_what_is_allowed(serve: Callable[..., Serving]) -> None:
    client = Client(serve(StandInPublisher()).address)
    put = client.session.put(client.url + "/hook", data=BODY)
    delete = client.session.delete(client.url + "/health")
    assert (put.status_code, put.headers["Allow"]) == (405, "POST")
    assert (delete.status_code, delete.headers["Allow"]) == (405, "GET, HEAD, POST")
