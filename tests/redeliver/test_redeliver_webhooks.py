"""`tickborg redeliver-webhooks` against the fake GitHub sending to the real receiver and broker."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from redeliver_setup import Setup, attempts, redeliver, requests_made
from support.process import tickborg_process, wait_until
from support.receiving import webhook_receiver
from support.rabbit import PrivateNode
from support.runtime import Broker, drain
from support.webhooks import load_webhook
from tickborg.config import GitHubAppConfig
from tickborg.fakegithub import FakeGitHub, ManualClock
from tickborg.fakegithub.faults import bad_credentials, rate_limited, server_error
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.sender import Delivery
from tickborg.fakegithub.testing import TEST_REPO, app_config
from tickborg.github.client import GitHubClient
from tickborg.tools.redeliver import run_pass
from tickborg.topology import PUSH_INPUTS


OUTAGE_SECONDS = 60


def push(n: int) -> dict[str, Any]:
    return {**load_webhook("push.branch", TEST_REPO), "ref": f"refs/heads/b{n}"}


def send_for_a_minute(fake: FakeGitHub, count: int = 50) -> list[Delivery]:
    """Push events 1..count spread over a minute, as GitHub sends them while we are down."""
    started, sent = time.monotonic(), []
    for n in range(1, count + 1):
        sent.append(fake.send_event("push", push(n)))
        time.sleep(max(0.0, started + n * OUTAGE_SECONDS / count - time.monotonic()))
    return sent


def assert_one_pass_recovers(setup: Setup, fake: FakeGitHub, delivered: Delivery, lost: list[Delivery]) -> None:
    """With the receiver and its broker back: one pass gets every lost event redelivered
    (each asked for once, the delivered one never) into its queue; a second asks for nothing."""
    assert redeliver(setup) == 0
    wait_until(lambda: len(attempts(fake)) == 2 * len(lost) + 1)
    asked = Counter(call.path.split("/")[-2] for call in fake.calls_to("POST", "/attempts"))
    assert sorted(map(int, asked)) == [d.id for d in lost] and set(asked.values()) == {1}
    redelivered = [d for d in attempts(fake) if d.redelivery]
    assert sorted(d.guid for d in redelivered) == sorted(d.guid for d in lost)
    assert {d.status_code for d in redelivered} == {200}
    assert delivered.guid not in {d.guid for d in redelivered}
    with Broker(setup.config.rabbitmq) as broker:
        bodies = [json.loads(body) for body in drain(broker, PUSH_INPUTS)]
    assert sorted(b["ref"] for b in bodies) == sorted(f"refs/heads/b{n}" for n in range(len(lost) + 1))
    assert redeliver(setup) == 0
    assert requests_made(fake) == len(lost)


def test_fifty_events_sent_while_the_receiver_is_down_for_a_minute_all_arrive_after_one_pass(
    setup: Setup, fake_github: FakeGitHub
) -> None:
    setup.declare_topology()
    with webhook_receiver(setup.config):
        delivered = fake_github.send_event("push", push(0))
    lost = send_for_a_minute(fake_github)
    assert {d.status_code for d in lost} == {0}  # nothing listens: the connection is refused
    with webhook_receiver(setup.config):
        assert_one_pass_recovers(setup, fake_github, delivered, lost)


def test_fifty_events_sent_while_the_broker_is_down_for_a_minute_all_arrive_after_one_pass(
    make_setup: Callable[..., Setup], fake_github: FakeGitHub, private_node: PrivateNode
) -> None:
    setup = make_setup(fake_github, private_node.rabbitmq)
    setup.declare_topology()
    with webhook_receiver(setup.config):
        delivered = fake_github.send_event("push", push(0))
        private_node.stop()
        lost = send_for_a_minute(fake_github)
        assert {d.status_code for d in lost} == {503}  # the receiver cannot publish: "try again"
        private_node.start()
        wait_until(setup.receiver_is_healthy, timeout=60)
        assert_one_pass_recovers(setup, fake_github, delivered, lost)


def test_max_attempts_is_honoured(setup: Setup, fake_github: FakeGitHub) -> None:
    fake_github.send_event("push", push(1))  # the receiver never comes back
    for passes in (1, 2):
        assert redeliver(setup, "--max-attempts", "2") == 0
        wait_until(lambda expected=1 + passes: len(attempts(fake_github)) == expected)
    assert redeliver(setup, "--max-attempts", "2") == 0
    assert requests_made(fake_github) == 2
    assert [d.redelivery for d in attempts(fake_github)] == [True, True, False]


def test_every_passes_until_sigterm_and_exits_0(setup: Setup, fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.send_event("push", push(1))  # the receiver never comes back
    options = ("--every", "0.2", "--max-attempts", "3")
    with tickborg_process("redeliver-webhooks", setup.path, tmp_path / "redeliver.log", options):
        wait_until(lambda: len(attempts(fake_github)) == 4)
        wait_until(lambda: len(fake_github.calls_to("GET", "/app/hook/deliveries")) >= 6)
    # Passes went on after the third redelivery, but asked for no fourth.
    assert requests_made(fake_github) == 3


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed_fake(fake_github_factory: Callable[..., FakeGitHub], clock: ManualClock) -> FakeGitHub:
    fake = fake_github_factory(clock=clock)
    fake.configure_hook("http://127.0.0.1:9/", "s")  # the discard port: nothing answers
    return fake


def client_for(fake: FakeGitHub, key: AppKeyPair, clock: ManualClock, **overrides: Any) -> GitHubClient:
    config: GitHubAppConfig = app_config(fake, key, **overrides)
    return GitHubClient.from_config(config, clock=clock, sleep=clock.sleep)


def test_pages_are_followed_by_cursor_back_to_the_look_back_window(
    timed_fake: FakeGitHub, github_app_key: AppKeyPair, clock: ManualClock
) -> None:
    old = [timed_fake.send_event("push", push(n)) for n in range(3)]
    clock.advance(7 * 3600)
    recent = [timed_fake.send_event("push", push(n)) for n in range(3, 8)]
    client = client_for(timed_fake, github_app_key, clock)
    result = run_pass(client, look_back_hours=6, max_attempts=3, clock=clock, per_page=2)
    assert (result.requested, result.failed) == (5, 0)
    asked = {int(call.path.split("/")[-2]) for call in timed_fake.calls_to("POST", "/attempts")}
    assert asked == {d.id for d in recent} and asked.isdisjoint(d.id for d in old)
    listings = timed_fake.calls_to("GET", "/app/hook/deliveries")
    # Pages of 2, newest first: 8 7 | 6 5 | 4 (3: out of the window, so no fourth page).
    assert [call.query.get("cursor") for call in listings] == [None, [str(recent[3].id)], [str(recent[1].id)]]
    assert all(call.auth == "app" for call in listings)


def test_redelivery_requests_are_paced_like_every_write(
    timed_fake: FakeGitHub, github_app_key: AppKeyPair, clock: ManualClock
) -> None:
    for n in range(4):
        timed_fake.send_event("push", push(n))
    client = client_for(timed_fake, github_app_key, clock, writes_per_second=2.0, write_burst=1)
    started = clock()
    assert run_pass(client, 6, 3, clock=clock).requested == 4
    assert clock() - started == pytest.approx(1.5)  # the first from the burst, then one per 0.5 s


@pytest.mark.parametrize("fault", [bad_credentials(), server_error(502)], ids=["401", "502"])
def test_a_failed_listing_fails_the_pass_with_a_clear_line(
    setup: Setup, fake_github: FakeGitHub, fault: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_github.send_event("push", push(1))
    fake_github.fail(fault, "GET", "/app/hook/deliveries", times=None)
    assert redeliver(setup) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("tickborg redeliver-webhooks: listing the App's webhook deliveries failed")
    assert requests_made(fake_github) == 0


def test_a_refused_redelivery_fails_the_pass_and_the_next_pass_asks_again(
    setup: Setup, fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(2):
        fake_github.send_event("push", push(n))
    fake_github.fail(server_error(500), "POST", r".*/attempts", times=1)
    assert redeliver(setup) == 1
    assert capsys.readouterr().err.strip().endswith(
        "tickborg redeliver-webhooks: 1 of 2 redelivery requests failed; the next pass retries them"
    )
    wait_until(lambda: len(attempts(fake_github)) == 3)
    assert redeliver(setup) == 0  # neither has a 2xx attempt yet: both are asked again
    assert requests_made(fake_github) == 4


def test_a_rate_limit_stops_the_pass(setup: Setup, fake_github: FakeGitHub) -> None:
    for n in range(3):
        fake_github.send_event("push", push(n))
    fake_github.fail(rate_limited(), "POST", r".*/attempts", times=1)
    assert redeliver(setup) == 1
    assert requests_made(fake_github) == 1


@pytest.mark.parametrize(
    "options",
    [["--max-attempts", "0"], ["--look-back-hours", "73"], ["--look-back-hours", "x"], ["--every", "-1"]],
)
def test_bad_options_exit_2(setup: Setup, options: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        redeliver(setup, *options)
    assert exited.value.code == 2


def test_a_config_without_github_app_exits_2(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(setup.path.read_text())
    del data["github_app"]
    setup.path.write_text(json.dumps(data))
    with pytest.raises(SystemExit) as exited:
        redeliver(setup)
    assert exited.value.code == 2
    assert "github_app" in capsys.readouterr().err
