"""The fake GitHub itself: credentials, API-description checks, faults, the call record."""

from __future__ import annotations

import signal
import socket
import sys
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from support.fake_process import start_fake_github
from support.paths import REPO
from tickborg.fakegithub import faults
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_INSTALLATION, TEST_REPO
from tickborg.github.bodies import CheckRunFields
from tickborg.github.errors import Error
from tickborg.github.transport import DEFAULT_HEADERS

SHA = "a" * 40


def new_token(fake, github_app_key, clock, installation=TEST_INSTALLATION) -> str:
    """An installation token obtained by hand, as GitHub's docs describe it."""
    now = int(clock())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(TEST_APP_ID)}
    app_jwt = jwt.encode(claims, github_app_key.private_pem, algorithm="RS256")
    response = requests.post(
        f"{fake.url}/app/installations/{installation}/access_tokens",
        headers={**DEFAULT_HEADERS, "Authorization": f"Bearer {app_jwt}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def call(fake, method, path, token, **kwargs):
    headers = {**DEFAULT_HEADERS, "Authorization": f"Bearer {token}"}
    return requests.request(method, f"{fake.url}{path}", headers=headers, timeout=5, **kwargs)


def test_a_deliberately_invalid_body_is_caught(timed_fake, github_app_key, clock):
    token = new_token(timed_fake, github_app_key, clock)
    response = call(
        timed_fake, "POST", f"/repos/{TEST_REPO}/statuses/{SHA}", token, json={"state": "bogus", "context": 5}
    )
    assert response.status_code == 422
    violations = timed_fake.take_violations()
    assert any("body.state: 'bogus' is not one of" in v for v in violations)
    assert any("body.context: 5 is not of type 'string'" in v for v in violations)
    assert timed_fake.state.statuses(TEST_REPO) == []


def test_an_invalid_body_from_the_client_is_caught_too(timed_fake, client_for):
    client = client_for(timed_fake)
    run = client.create_check_run(TEST_REPO, "x on y", SHA, CheckRunFields())
    with pytest.raises(Error) as raised:
        # GitHub's description: completing a run needs a conclusion.
        client.update_check_run(TEST_REPO, run.id, CheckRunFields(status="completed"))
    assert raised.value.status == 422
    assert ["checks/update" in v for v in timed_fake.take_violations()] == [True]


def test_a_request_cut_short_by_its_client_is_neither_recorded_nor_a_violation(timed_fake):
    """A client killed as it wrote (SIGKILL mid-request) never finished its request."""
    host, port = urlsplit(timed_fake.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"PATCH /repos/{TEST_REPO}/check-runs/1 HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\"".encode()
        )
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # closed without an answer
    assert timed_fake.calls == [] and timed_fake.violations == []


def test_unknown_operations_and_query_parameters_are_violations(timed_fake, github_app_key, clock):
    token = new_token(timed_fake, github_app_key, clock)
    assert call(timed_fake, "GET", f"/repos/{TEST_REPO}/branches", token).status_code == 404
    odd_query = call(timed_fake, "GET", f"/repos/{TEST_REPO}/commits/{SHA}/statuses?colour=red", token)
    assert odd_query.status_code == 422
    violations = timed_fake.take_violations()
    assert len(violations) == 2
    assert "no such operation" in violations[0] and "unknown query parameter 'colour'" in violations[1]


def test_a_request_without_user_agent_is_refused(timed_fake):
    url = f"{timed_fake.url}/repos/{TEST_REPO}/issues/1"
    response = requests.get(url, headers={"User-Agent": ""}, timeout=5)
    assert response.status_code == 403
    assert any("User-Agent" in v for v in timed_fake.take_violations())


def test_expired_and_unknown_tokens_are_bad_credentials(timed_fake, github_app_key, clock):
    token = new_token(timed_fake, github_app_key, clock)
    path = f"/repos/{TEST_REPO}/commits/{SHA}/statuses"
    assert call(timed_fake, "GET", path, token).status_code == 200
    clock.advance(3600)  # the default token lifetime
    for credential in (token, "ghs_" + "x" * 36):
        response = call(timed_fake, "GET", path, credential)
        assert (response.status_code, response.json()["message"]) == (401, "Bad credentials")


def test_expired_or_foreign_jwts_are_bad_credentials(timed_fake, github_app_key, clock):
    now = int(clock())
    cases = [
        {"iat": now - 700, "exp": now - 60, "iss": str(TEST_APP_ID)},  # expired
        {"iat": now - 60, "exp": now + 900, "iss": str(TEST_APP_ID)},  # too long-lived
        {"iat": now - 60, "exp": now + 540, "iss": "999"},  # another App
    ]
    for claims in cases:
        app_jwt = jwt.encode(claims, github_app_key.private_pem, algorithm="RS256")
        response = call(timed_fake, "POST", f"/app/installations/{TEST_INSTALLATION}/access_tokens", app_jwt)
        assert response.status_code == 401
    assert timed_fake.state.issued_tokens() == []


def test_a_token_only_reaches_its_own_installations_repositories(timed_fake, github_app_key, clock):
    timed_fake.state.add_repo("other-org/tools", installation_id=88)
    token = new_token(timed_fake, github_app_key, clock)
    assert call(timed_fake, "GET", "/repos/other-org/tools/commits/abc/statuses", token).status_code == 404


def test_faults_match_method_and_path_and_run_out(timed_fake, github_app_key, clock):
    token = new_token(timed_fake, github_app_key, clock)
    path = f"/repos/{TEST_REPO}/commits/{SHA}/statuses"
    timed_fake.fail(faults.server_error(503), method="GET", path=r".*/statuses", times=2)
    timed_fake.fail(faults.bad_credentials(), method="POST", path=r".*/statuses/.*")
    statuses = [call(timed_fake, "GET", path, token).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_rate_limit_fault_headers(timed_fake, github_app_key, clock):
    token = new_token(timed_fake, github_app_key, clock)
    timed_fake.fail(faults.rate_limited(status=429, reset_in=120, retry_after=7))
    response = call(timed_fake, "GET", f"/repos/{TEST_REPO}/issues/1", token)
    assert response.status_code == 429
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.headers["x-ratelimit-reset"] == str(int(clock()) + 120)
    assert response.headers["retry-after"] == "7"


def test_the_call_record_keeps_requests_but_not_credentials(timed_fake, client_for, clock):
    client = client_for(timed_fake)
    clock.advance(42)
    client.create_status(TEST_REPO, SHA, "success", "tickborg-eval", "ok")
    recorded = timed_fake.calls[-1]
    assert recorded.at == clock()  # when it was answered, by the fake's clock
    assert (recorded.method, recorded.status) == ("POST", 201)
    assert recorded.path == f"/repos/{TEST_REPO}/statuses/{SHA}"
    assert recorded.body == {"state": "success", "context": "tickborg-eval", "description": "ok"}
    assert (recorded.auth, recorded.installation_id) == ("installation", TEST_INSTALLATION)
    assert "Authorization" not in recorded.headers


def test_runs_as_a_process(tmp_path, github_app_key, clock):
    key_file = tmp_path / "app.pub"
    key_file.write_text(github_app_key.public_pem)
    process, url = start_fake_github(sys.executable, TEST_APP_ID, key_file, f"{TEST_REPO}=9", REPO)
    try:
        response = requests.get(f"{url}/repos/{TEST_REPO}/installation", headers=DEFAULT_HEADERS, timeout=1)
        assert response.status_code == 401  # no JWT
        # Set up and read back through the control API, as the demo does.
        added = requests.post(
            f"{url}/_fake/repos/{TEST_REPO}/pulls",
            json={"number": 5, "head_sha": SHA, "files": ["a/b.c"]},
            timeout=5,
        )
        assert added.status_code == 201, added.text
        shown = requests.get(f"{url}/_fake/repos/{TEST_REPO}", timeout=5).json()
        assert shown["issues"]["5"]["state"] == "open" and shown["check_runs"] == []
        assert requests.get(f"{url}/_fake/violations", timeout=5).json() == []
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert "fake github listening" in output
