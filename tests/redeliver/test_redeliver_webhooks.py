"""`tickborg redeliver-webhooks` against the fake GitHub sending to the real receiver and broker."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from redeliver_setup import Setup
from support.process import tickborg_process, wait_until
from support.receiving import webhook_receiver
from support.runtime import Broker, drain
from support.webhooks import load_webhook
from tickborg.cli import main as cli
from tickborg.config import GitHubAppConfig
from tickborg.fakegithub import FakeGitHub, ManualClock
from tickborg.fakegithub.faults import bad_credentials, rate_limited, server_error
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_REPO, app_config
from tickborg.github.client import GitHubClient
from tickborg.tools.redeliver import run_pass
from tickborg.topology import PUSH_INPUTS


def push(n: int) -> dict[str, Any]:
    return {**load_webhook("push.branch", TEST_REPO), "ref": f"refs/heads/b{n}"}


def redeliver(setup: Setup, *options: str) -> int:
    return cli(["redeliver-webhooks", "--config", str(setup.path), *options])


def attempts(fake: FakeGitHub) -> list[Any]:
    return fake.state.hooks.deliveries()


def requests_made(fake: FakeGitHub) -> int:
    return len(fake.calls_to("POST", "/attempts"))


def test_fifty_events_sent_while_the_receiver_is_down_all_arrive_after_one_pass(
    setup: Setup, broker: Broker, fake_github: FakeGitHub
) -> None:
    with webhook_receiver(setup.config):
        delivered = fake_github.send_event("push", push(0))
    lost = [fake_github.send_event("push", push(n)) for n in range(1, 51)]
    assert {d.status_code for d in lost} == {0}
    with webhook_receiver(setup.config):
        assert redeliver(setup) == 0
        wait_until(lambda: len(attempts(fake_github)) == 101)
        bodies = [json.loads(body) for body in drain(broker, PUSH_INPUTS)]
        # Each lost GUID was asked for exactly once; the delivered one never.
        asked = Counter(call.path.split("/")[-2] for call in fake_github.calls_to("POST", "/attempts"))
        assert sorted(map(int, asked)) == [d.id for d in lost] and set(asked.values()) == {1}
        redelivered = [d for d in attempts(fake_github) if d.redelivery]
        assert sorted(d.guid for d in redelivered) == sorted(d.guid for d in lost)
        assert {d.status_code for d in redelivered} == {200}
        # A second pass finds nothing left to do.
        assert redeliver(setup) == 0
    assert requests_made(fake_github) == 50
    assert sorted(b["ref"] for b in bodies) == sorted(f"refs/heads/b{n}" for n in range(51))
    assert delivered.guid not in {d.guid for d in redelivered}


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
