"""GitHub failing under the whole fleet: every accepted webhook completes, or sits in a `.dead`
queue with its reason once its attempts ran out, and the GitHub calls stay bounded (no hot loop).

Each test has the fake GitHub deliver several PRs' webhooks to the receiver,
injects a fault into the fake (tickborg/fakegithub/faults.py), and lets the
accounting ledger (tests/support/accounting.py) trace every accepted webhook
to its outcome and count the calls GitHub got.
"""

from __future__ import annotations

import time

import pytest

from fault_fleet import FaultFleet, StartFleet
from support.process import wait_until
from tickborg.fakegithub.faults import Fault, bad_credentials, drop_connection, rate_limited, server_error
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.topology import BUILD_RESULTS_QUEUE

STATUSES = r"/repos/[^/]+/[^/]+/statuses/[0-9a-f]+"
COMMIT_STATUSES = r"/repos/[^/]+/[^/]+/commits/[0-9a-f]+/statuses"
CHECK_RUNS = r"/repos/[^/]+/[^/]+/check-runs(/\d+)?"
SUCCESS = "completed: eval success; libfoo on x86_64-linux: success"
# The jobs one PR's webhook makes for the workers that call GitHub: its
# evaluation, and the status, labels, QueuedBuildJobs, build start and result
# the reporter writes.
GITHUB_JOBS_PER_PR = 6
# The pending steps of an evaluation (the fault fleet shows each at once).
PROGRESS_STEPS = 6


def outcomes(fleet: FaultFleet, timeout: float = 180) -> list[str]:
    return [account.outcome or "" for account in fleet.ledger.wait_all_accounted(timeout)]


def test_bad_credentials_once_make_each_worker_fetch_a_new_token_and_go_on(fleet: FaultFleet) -> None:
    fleet.fake.fail(bad_credentials(), "GET", COMMIT_STATUSES)  # the mass-rebuilder's first read of a commit
    fleet.fake.fail(bad_credentials(), "POST", CHECK_RUNS)  # the status reporter's
    fleet.send(3)
    assert outcomes(fleet) == [SUCCESS] * 3
    calls = fleet.ledger.calls()
    assert calls.by_status.get(401) == 2 and calls.refused == 2
    # Each of the two workers that talk to GitHub: its first token, and one after the 401.
    assert len(fleet.fake.calls_to("POST", "/access_tokens")) == 4
    assert fleet.ledger.dead_letters() == []


def test_bursts_of_server_errors_are_retried_and_a_status_github_always_refuses_is_dead_lettered(
    start_fleet: StartFleet,
) -> None:
    limit = 7  # above each burst, so a job that meets a whole burst still gets through
    fleet = start_fleet(delivery_limit=limit)
    doomed = fleet.open_pr()
    fleet.fake.fail(server_error(500), "POST", f".*/statuses/{doomed.head}", times=None)
    fleet.fake.fail(server_error(502), "POST", STATUSES, times=5)
    fleet.fake.fail(server_error(500), None, CHECK_RUNS, times=5)
    fleet.announce(doomed)
    fleet.send(3)
    got = outcomes(fleet)
    assert got[1:] == [SUCCESS] * 3
    # The evaluation is done; its status is the reporter's to write, and GitHub never takes it.
    assert got[0].startswith(f"dead: {BUILD_RESULTS_QUEUE}: gave up after {limit} attempts: POST ")
    assert f"/statuses/{doomed.head}: 500 Server Error" in got[0]
    # Its outcome tried once an attempt; each progress step at most once, not retried
    # once the outcome came. The bursts are each met once.
    doomed_writes = fleet.fake.calls_to("POST", f"/repos/{TEST_REPO}/statuses/{doomed.head}")
    assert {call.status for call in doomed_writes} == {500}
    assert limit <= len(doomed_writes) <= limit + PROGRESS_STEPS
    calls = fleet.ledger.calls()
    assert calls.by_status.get(502) == 5 and calls.by_status.get(500) == 5 + len(doomed_writes)
    assert [d.queue for d in fleet.ledger.dead_letters()] == [BUILD_RESULTS_QUEUE]


def test_a_minute_without_github_holds_every_job_until_it_is_back(start_fleet: StartFleet) -> None:
    outage = 60.0
    # Retries every 4-8 s once past the first few, and enough of them to outlast the outage.
    limit = 25
    fleet = start_fleet(retry_base_seconds=1.0, retry_cap_seconds=8.0, delivery_limit=limit)
    webhooks = fleet.send(4)
    wait_until(lambda: fleet.eval_started(webhooks[0]), timeout=60)
    start = fleet.ledger.mark()
    fleet.fake.fail(drop_connection(), times=None)  # every call: the connection closes unanswered
    time.sleep(outage)
    fleet.fake.faults.clear()
    end = fleet.ledger.mark()
    assert outcomes(fleet, timeout=240) == [SUCCESS] * 4
    during = fleet.ledger.calls(start, end)
    assert during.refused == during.total > 0
    # Each job asks at most once an attempt: bounded by the attempts, not by the minute.
    assert during.most_per_webhook() <= GITHUB_JOBS_PER_PR * limit, during
    assert fleet.ledger.dead_letters() == []


RESET_SECONDS = 8


@pytest.mark.parametrize(
    "limit",
    [
        rate_limited(403, reset_in=RESET_SECONDS),
        rate_limited(429, reset_in=None, retry_after=RESET_SECONDS),
    ],
    ids=["403-ratelimit-reset", "429-retry-after"],
)
def test_a_rate_limit_holds_each_job_until_its_reset(fleet: FaultFleet, limit: Fault) -> None:
    # A first PR through, so each worker has its installation and token: the
    # refused calls below are then each job's own.
    fleet.send(1)
    fleet.ledger.wait_all_accounted(timeout=120)
    prs = [fleet.open_pr() for _ in range(3)]
    start = fleet.ledger.mark()
    fleet.fake.fail(limit, times=None)
    held = [fleet.announce(pr) for pr in prs]
    # GitHub refuses everything until shortly before the reset it announced.
    time.sleep(RESET_SECONDS - 3)
    fleet.fake.faults.clear()
    end = fleet.ledger.mark()
    assert outcomes(fleet) == [SUCCESS] * 4
    during = fleet.ledger.calls(start, end)
    assert during.refused == during.total > 0
    # Each refused job waited for the reset: not one asked twice while it lasted.
    assert all(during.per_webhook.get(w.label, 0) <= 1 for w in held), during
    assert during.unattributed == 0, during
    assert fleet.ledger.dead_letters() == []


def test_a_commit_github_does_not_know_is_skipped_after_one_422(fleet: FaultFleet) -> None:
    vanished = fleet.open_pr()
    fleet.fake.state.remove_commits(TEST_REPO, vanished.head)  # force-pushed away, as GitHub sees it
    gone = fleet.announce(vanished, runs=())
    fleet.send(2)  # after it, so a retry of its job would have come by the time these complete
    got = outcomes(fleet)
    # The mass-rebuilder's first look at the commit (its statuses) is answered 422, and that is all.
    assert got == [f"gone: GET /repos/{TEST_REPO}/commits/{vanished.head}/statuses: 422", SUCCESS, SUCCESS]
    calls = fleet.ledger.calls()
    assert calls.refused_per_webhook == {gone.label: 1, **{w.label: 0 for w in fleet.ledger.webhooks[1:]}}
    assert fleet.fake.state.check_runs(TEST_REPO, vanished.head) == []
    assert fleet.ledger.dead_letters() == []
