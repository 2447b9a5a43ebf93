"""The classification of SPEC §6, row by row, from real HTTP answers of the fake GitHub."""

from __future__ import annotations

import socket

import pytest

from tickborg.fakegithub import faults
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.github.bodies import CheckRunFields
from tickborg.github.errors import (
    SECONDARY_RATE_LIMIT_SECONDS,
    CommitStatusError,
    Error,
    ExpiredCreds,
    InternalError,
    MissingSha,
    RateLimited,
)

SHA = "a" * 40
PULLS = r"/repos/.*/pulls/.*"


@pytest.fixture
def client(timed_fake, client_for):
    timed_fake.state.add_pull_request(TEST_REPO, 7, head_sha=SHA)
    return client_for(timed_fake)


def failure(call) -> CommitStatusError:
    with pytest.raises(CommitStatusError) as raised:
        call()
    return raised.value


def get_pr(client):
    return failure(lambda: client.get_pull_request(TEST_REPO, 7))


def test_every_variant_is_a_commit_status_error_with_a_retry_flag():
    assert [v.retryable for v in (ExpiredCreds, MissingSha, RateLimited, InternalError, Error)] == [
        True, False, True, True, False,
    ]


def test_401_is_expired_creds(client, timed_fake):
    timed_fake.fail(faults.bad_credentials(), path=PULLS, times=2)
    error = get_pr(client)
    assert isinstance(error, ExpiredCreds) and error.status == 401
    assert "GET /repos/tick-org/monorepo/pulls/7: 401 Bad credentials" in str(error)


def test_422_for_an_unknown_commit_is_missing_sha(client):
    error = failure(lambda: client.create_status(TEST_REPO, "f" * 40, "pending", "tickborg-eval"))
    assert isinstance(error, MissingSha) and error.status == 422
    assert f"No commit found for SHA: {'f' * 40}" in str(error)


def test_422_on_check_runs_for_an_unknown_commit_is_missing_sha(client):
    create = lambda: client.create_check_run(TEST_REPO, "x on y", "f" * 40, CheckRunFields())  # noqa: E731
    assert isinstance(failure(create), MissingSha)
    assert isinstance(failure(lambda: client.list_check_runs(TEST_REPO, "f" * 40)), MissingSha)


def test_other_422_is_an_error(client, timed_fake):
    timed_fake.fail(faults.error(422, "Validation Failed"), path=PULLS)
    error = get_pr(client)
    assert type(error) is Error and (error.status, "Validation Failed" in error.message) == (422, True)


def test_an_error_keeps_the_start_of_the_response_body(client, timed_fake):
    timed_fake.fail(faults.error(422, "Validation Failed"), path=PULLS)
    error = get_pr(client)
    assert '"message": "Validation Failed"' in error.body and "documentation_url" in error.body


def test_primary_rate_limit_carries_the_reset_time(client, timed_fake, clock):
    timed_fake.fail(faults.rate_limited(status=403, reset_in=1800), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, RateLimited) and error.status == 403
    assert error.reset_at == int(clock()) + 1800


def test_429_with_retry_after_is_rate_limited_until_then(client, timed_fake, clock):
    timed_fake.fail(faults.rate_limited(status=429, reset_in=None, retry_after=30), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, RateLimited) and error.status == 429
    assert error.reset_at == clock() + 30


def test_secondary_rate_limit_without_retry_after_waits_at_least_a_minute(client, timed_fake, clock):
    timed_fake.fail(faults.secondary_rate_limit(), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, RateLimited) and error.status == 403
    assert error.reset_at >= clock() + SECONDARY_RATE_LIMIT_SECONDS


def test_secondary_rate_limit_with_retry_after_waits_that_long(client, timed_fake, clock):
    timed_fake.fail(faults.secondary_rate_limit(retry_after=5), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, RateLimited) and error.reset_at == clock() + 5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_an_internal_error(client, timed_fake, status):
    timed_fake.fail(faults.server_error(status), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, InternalError) and error.status == status


def test_a_dropped_connection_is_an_internal_error(client, timed_fake):
    timed_fake.fail(faults.drop_connection(), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, InternalError) and error.status is None
    assert [c.status for c in timed_fake.calls_to("GET", "/pulls/7")] == [None]


def test_a_timeout_is_an_internal_error(timed_fake, client_for):
    timed_fake.state.add_pull_request(TEST_REPO, 7, head_sha=SHA)
    client = client_for(timed_fake, timeout_seconds=0.1)
    timed_fake.fail(faults.delay(0.4), path=PULLS)
    error = get_pr(client)
    assert isinstance(error, InternalError) and "Timeout" in str(error)


def test_connection_refused_is_an_internal_error(timed_fake, client_for):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_for(timed_fake, api_url=f"http://127.0.0.1:{port}")
    error = failure(lambda: client.get_pull_request(TEST_REPO, 7))
    assert isinstance(error, InternalError) and "ConnectionError" in str(error)


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (faults.error(403, "Resource not accessible by integration"), 403),
        (faults.error(410, "Gone"), 410),
        (faults.rate_limited(status=403, reset_in=None), 403),  # no remaining: 0, no retry-after
    ],
)
def test_anything_else_is_an_error_with_status_and_message(client, timed_fake, fault, status):
    timed_fake.fail(fault, path=PULLS)
    error = get_pr(client)
    assert type(error) is Error and error.status == status
    assert fault.message in error.message


def test_404_from_the_real_state_is_an_error(client):
    error = failure(lambda: client.get_pull_request(TEST_REPO, 999))
    assert type(error) is Error and error.status == 404 and "Not Found" in error.message


def test_a_fault_for_all_calls_lasts_until_cleared(client, timed_fake):
    timed_fake.fail(faults.server_error(), path=PULLS, times=None)
    for _ in range(3):
        assert isinstance(get_pr(client), InternalError)
    timed_fake.faults.clear()
    assert client.get_pull_request(TEST_REPO, 7).head_sha == SHA
