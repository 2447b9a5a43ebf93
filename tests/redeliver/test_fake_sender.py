"""The fake GitHub as GitHub's webhook sender: signed deliveries, the delivery log, redelivery."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import requests

from redeliver_setup import Setup
from support.process import wait_until
from support.receiving import WEBHOOK_SECRET, webhook_receiver
from support.runtime import Broker
from support.webhooks import load_webhook
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO
from tickborg.github.auth import app_jwt_claims
from tickborg.github.client import GitHubClient
from tickborg.github.errors import CommitStatusError
from tickborg.topology import PUSH_INPUTS
from tickborg.webhook.signature import Verdict, check


def test_a_signed_event_reaches_the_receiver_and_is_recorded_as_200(
    setup: Setup, broker: Broker, fake_github: FakeGitHub, github_client: GitHubClient
) -> None:
    payload = load_webhook("push.branch", TEST_REPO)
    with webhook_receiver(setup.config):
        delivery = fake_github.send_event("push", payload)
    assert (delivery.status_code, delivery.status, delivery.redelivery) == (200, "OK", False)
    props, body = broker.get(PUSH_INPUTS)
    assert json.loads(body) == payload
    assert props.message_id == delivery.guid
    assert check(WEBHOOK_SECRET.encode(), body, delivery.request_headers["X-Hub-Signature-256"]) is Verdict.VALID

    [listed] = github_client.list_hook_deliveries()
    assert (listed.id, listed.guid, listed.status_code, listed.event) == (delivery.id, delivery.guid, 200, "push")
    assert github_client.get_hook_delivery(delivery.id) == listed


def test_a_stopped_receiver_is_recorded_as_a_failed_delivery_with_no_status(
    setup: Setup, fake_github: FakeGitHub
) -> None:
    delivery = fake_github.send_event("push", load_webhook("push.branch", TEST_REPO))
    assert (delivery.status_code, delivery.status) == (0, "failed to connect")
    assert not delivery.succeeded


def test_a_refused_delivery_records_the_receivers_status(setup: Setup, fake_github: FakeGitHub) -> None:
    fake_github.configure_hook(setup.hook_url, "not-the-receivers-secret")
    with webhook_receiver(setup.config):
        delivery = fake_github.send_event("push", load_webhook("push.branch", TEST_REPO))
    assert (delivery.status_code, delivery.status) == (403, "Invalid HTTP Response: 403")


def test_redelivery_resends_the_payload_under_the_same_guid(
    setup: Setup, broker: Broker, fake_github: FakeGitHub, github_client: GitHubClient
) -> None:
    payload = load_webhook("push.branch", TEST_REPO)
    failed = fake_github.send_event("push", payload)
    with webhook_receiver(setup.config):
        github_client.redeliver_hook_delivery(failed.id)
        wait_until(lambda: len(fake_github.state.hooks.deliveries()) == 2)
        props, body = broker.get(PUSH_INPUTS)
    again = fake_github.state.hooks.deliveries()[0]
    assert (again.guid, again.redelivery, again.status_code, again.id) == (failed.guid, True, 200, failed.id + 1)
    assert json.loads(body) == payload and props.message_id == failed.guid
    assert fake_github.calls_to("POST", f"/app/hook/deliveries/{failed.id}/attempts")[0].status == 202


def test_the_deliveries_api_wants_the_app_jwt_not_an_installation_token(fake_github: FakeGitHub) -> None:
    token = fake_github.state.issue_token(77).value
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        response = requests.get(f"{fake_github.url}/app/hook/deliveries", headers={"User-Agent": "t", **headers}, timeout=5)
        assert response.status_code == 401
    assert [call.auth for call in fake_github.calls] == ["refused", "refused"]


def test_an_unknown_delivery_is_404(setup: Setup, fake_github: FakeGitHub, github_client: GitHubClient) -> None:
    for call in (github_client.get_hook_delivery, github_client.redeliver_hook_delivery):
        with pytest.raises(CommitStatusError) as raised:
            call(999)
        assert raised.value.status == 404


def test_the_control_api_configures_the_hook_and_sends_events(
    setup: Setup, broker: Broker, fake_github: FakeGitHub
) -> None:
    control = f"{fake_github.url}/_fake"
    payload = load_webhook("push.branch", TEST_REPO)
    assert requests.post(f"{control}/hook", json={"url": setup.hook_url, "secret": WEBHOOK_SECRET}, timeout=5).status_code == 201
    with webhook_receiver(setup.config):
        response = requests.post(f"{control}/events", json={"event": "push", "payload": payload}, timeout=15)
    assert response.status_code == 201
    assert (response.json()["status_code"], response.json()["event"]) == (200, "push")
    assert json.loads(broker.get(PUSH_INPUTS)[1]) == payload


def test_the_control_api_refuses_bad_requests(fake_github: FakeGitHub) -> None:
    control = f"{fake_github.url}/_fake"
    no_hook = requests.post(f"{control}/events", json={"event": "push", "payload": {}}, timeout=5)
    assert no_hook.status_code == 409 and "no webhook URL" in no_hook.json()["message"]
    assert requests.post(f"{control}/hook", json={"url": "http://x"}, timeout=5).status_code == 400
    assert requests.post(f"{control}/events", json=["push"], timeout=5).status_code == 400
    assert requests.post(f"{control}/events", json={"event": "push"}, timeout=5).status_code == 400


def test_the_listing_filters_by_status_and_refuses_a_bad_cursor(
    setup: Setup, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> None:
    failed = fake_github.send_event("push", load_webhook("push.branch", TEST_REPO))
    with webhook_receiver(setup.config):
        fake_github.send_event("push", load_webhook("push.branch", TEST_REPO))
    claims = app_jwt_claims(TEST_APP_ID, time.time())
    headers = {"User-Agent": "t", "Authorization": f"Bearer {jwt.encode(claims, github_app_key.private_pem, algorithm='RS256')}"}
    url = f"{fake_github.url}/app/hook/deliveries"
    listed = requests.get(url, params={"status": "failure"}, headers=headers, timeout=5)
    assert [d["guid"] for d in listed.json()] == [failed.guid]
    assert requests.get(url, params={"cursor": "abc"}, headers=headers, timeout=5).status_code == 422
